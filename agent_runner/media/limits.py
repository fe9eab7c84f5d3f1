"""What files the bot takes in: a size limit and content types (``AGENT_RUNNER_MEDIA_*``).

:class:`MediaLimits` is checked twice when an attachment is fetched: on the size and type the
platform announced (before any byte is read), and on what actually arrives (a download is
cut off past the limit, so a lying ``Content-Length`` cannot fill the memory).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agent_runner.errors import MediaError, UploadRefusedError

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_TYPES = (
    "image/*",
    "text/*",
    "audio/*",
    "video/*",
    "application/pdf",
    "application/json",
)


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB" if size >= 1024 * 1024 else f"{size} bytes"


def describe_size(size: int) -> str:
    """``"12.0 MiB"`` or ``"512 bytes"``, for error messages.

    >>> describe_size(3 * 1024 * 1024)
    '3.0 MiB'
    """
    return _mib(size)


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """The largest file fetched and the content types accepted (``fnmatch`` patterns).

    Example:
        >>> MediaLimits(max_bytes=1024, types=("image/*",)).refusal("a.zip", 10, "application/zip")
        'a.zip: type application/zip is not accepted (accepted: image/*)'
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    types: tuple[str, ...] = DEFAULT_TYPES

    @classmethod
    def from_env(cls) -> MediaLimits:
        """The limits ``AGENT_RUNNER_MEDIA_MAX_BYTES`` and ``..._TYPES`` configure."""
        from agent_runner.settings import read_settings

        settings = read_settings(MediaSettings)
        return cls(max_bytes=settings.max_bytes, types=tuple(settings.types))

    def type_allowed(self, content_type: str | None) -> bool:
        """True when ``content_type`` matches an accepted pattern (unknown: not checked)."""
        if not content_type:
            return True
        bare = content_type.split(";", 1)[0].strip().lower()
        return any(fnmatch.fnmatchcase(bare, pattern) for pattern in self.types)

    def refusal(self, name: str, size: int | None, content_type: str | None) -> str | None:
        """Why a file is refused (one line naming it, its size or type and the limit), or
        None when it is accepted."""
        if size is not None and size > self.max_bytes:
            return (
                f"{name}: {describe_size(size)} is over the limit of "
                f"{describe_size(self.max_bytes)}"
            )
        if not self.type_allowed(content_type):
            bare = (content_type or "").split(";", 1)[0].strip()
            return f"{name}: type {bare} is not accepted (accepted: {', '.join(self.types)})"
        return None

    def check(self, name: str, size: int | None, content_type: str | None) -> None:
        """Raise :class:`~agent_runner.errors.MediaError` with :meth:`refusal`'s reason."""
        reason = self.refusal(name, size, content_type)
        if reason is not None:
            raise MediaError(reason)


def check_upload(name: str, size: int, *, limit: int, platform: str) -> None:
    """Refuse a reply's file past ``platform``'s upload limit, naming it, its size and the
    limit (outputs call it before sending anything).

    Raises:
        UploadRefusedError: ``size`` is over ``limit``.
    """
    if size > limit:
        raise UploadRefusedError(
            f"{name}: {describe_size(size)} is over {platform}'s upload limit of "
            f"{describe_size(limit)}",
            name=name,
            size=size,
            limit=limit,
        )


class MediaSettings(BaseSettings):
    """``AGENT_RUNNER_MEDIA_*``: limits on the attachments the bot downloads."""

    model_config = SettingsConfigDict(
        env_prefix="AGENT_RUNNER_MEDIA_", extra="ignore", env_ignore_empty=True
    )

    max_bytes: int = Field(default=DEFAULT_MAX_BYTES, gt=0)
    """Largest attachment fetched, in bytes; a bigger one is refused before or while it
    downloads."""
    types: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_TYPES))
    """Comma-separated content types accepted (``image/*``, ``application/pdf``); others are
    refused."""

    @field_validator("types", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TYPES",
    "MediaLimits",
    "MediaSettings",
    "check_upload",
    "describe_size",
]
