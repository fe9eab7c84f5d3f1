"""What travels through the runner: the input :class:`Message` and the agent's :class:`Reply`.

Inputs build a ``Message`` (or hand the sink a plain mapping, which is validated here);
anything invalid raises :class:`~agent_runner.errors.InvalidMessageError` with a reason and
never reaches the agent.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from agent_runner.errors import InvalidMessageError

MAX_TEXT_LENGTH = 100_000
"""Longest accepted message text, in characters."""
MAX_ATTACHMENTS = 20
MAX_METADATA_BYTES = 16_384
"""Largest accepted ``metadata`` (JSON-encoded size)."""

_Id = Annotated[str, Field(min_length=1, max_length=256)]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Author(BaseModel):
    """Who wrote a message. ``is_bot`` is true for automated accounts (loop guard)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: _Id
    name: str | None = Field(default=None, max_length=256)
    is_bot: bool = False


MAX_URL_LENGTH = 4096
"""Longest attachment URL, in characters (``data:`` URLs excepted)."""
MAX_DATA_URL_BYTES = 8 * 1024 * 1024
"""Largest file an attachment may carry inline as a ``data:`` URL (before base64)."""
_MAX_DATA_URL_CHARS = 64 + (MAX_DATA_URL_BYTES + 2) // 3 * 4
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".heic"})
"""File name endings taken for images when no content type says so."""


def _looks_like_image(content_type: str | None, name: str | None) -> bool:
    if content_type:
        return content_type.split(";", 1)[0].strip().lower().startswith("image/")
    suffix = PurePosixPath(name or "").suffix.lower()
    return suffix in IMAGE_EXTENSIONS


class Attachment(BaseModel):
    """A file that came with a message, by reference: connectors do not download it.

    An agent downloads one on demand with ``await context.media.fetch(attachment)`` (through
    the outbound guard, under the size and type limits, with the platform's auth).

    Args:
        url: where the file is: an ``http(s)`` URL (at most 4,096 characters), a ``data:``
            URL carrying the file itself (at most 8 MiB of file), or a platform reference the
            connector resolves (Telegram's ``telegram-file:<file_id>``).
        filename: the file's name, when the platform gives one.
        content_type: its MIME type, when known.
        size: its size in bytes, when known.
        id: the platform's id of the file (Telegram's ``file_id``, Slack's file id).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(min_length=1, max_length=_MAX_DATA_URL_CHARS)
    filename: str | None = Field(default=None, max_length=1024)
    content_type: str | None = Field(default=None, max_length=256)
    size: int | None = Field(default=None, ge=0)
    id: str | None = Field(default=None, max_length=1024)

    @model_validator(mode="after")
    def _check_url(self) -> Attachment:
        if not self.url.startswith("data:") and len(self.url) > MAX_URL_LENGTH:
            raise ValueError(f"an attachment URL is at most {MAX_URL_LENGTH} characters")
        return self

    @property
    def is_image(self) -> bool:
        """True for an image (by content type, else by the file name's ending)."""
        content_type = self.content_type
        if content_type is None and self.url.startswith("data:"):
            content_type = self.url[5:].split(";", 1)[0].split(",", 1)[0] or None
        return _looks_like_image(content_type, self.filename)


class File(BaseModel):
    """A file a reply carries out: bytes or a path, with a name and a type.

    Each output uploads it the platform's way (a Telegram photo or document, a Discord
    attachment, a Slack file, X media, base64 in the HTTP answer), under the platform's size
    limit; past it the output refuses with
    :class:`~agent_runner.errors.UploadRefusedError` (the name, the size, the limit).

    Args:
        name: the file name shown (``chart.png``).
        data: the content; or
        path: a local file to read when the reply is sent (exactly one of the two).
        content_type: its MIME type (default: guessed from ``name``, else
            ``application/octet-stream``).

    Example:
        >>> File(name="hello.txt", data=b"hi").content_type
        'text/plain'
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    name: str = Field(min_length=1, max_length=255)
    data: bytes | None = None
    path: Path | None = None
    content_type: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _check(self) -> File:
        if (self.data is None) == (self.path is None):
            raise ValueError(f"file {self.name!r}: give exactly one of data or path")
        if self.content_type is None:
            guessed = mimetypes.guess_type(self.name)[0] or "application/octet-stream"
            object.__setattr__(self, "content_type", guessed)
        return self

    @property
    def is_image(self) -> bool:
        """True for an image type (sent as a photo where the platform has photos)."""
        return _looks_like_image(self.content_type, self.name)

    @property
    def size(self) -> int:
        """The size in bytes (a path's, read from the file system)."""
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        return self.path.stat().st_size

    def read(self) -> bytes:
        """The content (a path is read now; call it off the event loop for big files)."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


KEY_SEPARATOR = ":"
"""Joins a source and an id in message and conversation keys (``"discord:123"``)."""
SOURCE_RULE = (
    "a connector name must not contain ':' (it separates the name from ids in message and "
    "conversation keys, so 'm:x' + 'y' would be 'm' + 'x:y')"
)


class Message(BaseModel):
    """One validated input.

    Args:
        id: the platform's message id (Discord snowflake, tweet id, HTTP client id). With
            ``source`` it is the deduplication key: a message id is handled once and answered
            at most once per output.
        conversation_id: the thread of conversation (channel, DM, tweet conversation, HTTP
            session). Messages of one conversation are handled one at a time, in order.
        source: the name of the connector that received it; the reply goes back there.
        author: who wrote it.
        text: the content (may be empty only when there are attachments).
        attachments: files by URL.
        reply_to: the platform id of the message this one answers, if any.
        depth: how many bot replies deep this thread already is (connectors that know it set
            it; the runner refuses messages deeper than its ``max_reply_depth``).
        payment: a payment reference (e.g. a Solana transaction signature) for paid agents.
        metadata: platform details, JSON values only, at most 16 KiB encoded.
        created_at: when it was written (timezone-aware; defaults to now, UTC).

    Example:
        >>> Message(id="1", conversation_id="c", source="http", author=Author(id="u"), text="hi")
        Message(id='1', ...)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: _Id
    conversation_id: _Id
    source: _Id
    author: Author
    text: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    attachments: tuple[Attachment, ...] = Field(default=(), max_length=MAX_ATTACHMENTS)
    reply_to: str | None = Field(default=None, max_length=256)
    depth: int = Field(default=0, ge=0)
    payment: str | None = Field(default=None, max_length=512)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=_utcnow)

    @model_validator(mode="after")
    def _check(self) -> Message:
        if KEY_SEPARATOR in self.source:
            raise ValueError(f"source {self.source!r}: {SOURCE_RULE}")
        if not self.text.strip() and not self.attachments:
            raise ValueError("text is empty and there are no attachments")
        if self.created_at.tzinfo is None:
            object.__setattr__(self, "created_at", self.created_at.replace(tzinfo=UTC))
        if self.metadata:
            import json

            size = len(json.dumps(self.metadata, separators=(",", ":"), default=str))
            if size > MAX_METADATA_BYTES:
                raise ValueError(f"metadata is {size} bytes encoded, over {MAX_METADATA_BYTES}")
        return self

    @property
    def key(self) -> str:
        """The deduplication key, ``"{source}:{id}"``."""
        return f"{self.source}:{self.id}"

    @property
    def conversation_key(self) -> str:
        """The conversation's key across connectors, ``"{source}:{conversation_id}"``."""
        return f"{self.source}:{self.conversation_id}"

    @classmethod
    def parse(cls, data: Message | Mapping[str, Any]) -> Message:
        """Validate ``data`` into a Message, or raise InvalidMessageError with a reason."""
        if isinstance(data, Message):
            return data
        if not isinstance(data, Mapping):
            raise InvalidMessageError(
                f"a message must be an object, not {type(data).__name__}",
                [{"loc": (), "msg": "not an object", "type": "model_type"}],
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise invalid_message(exc) from None


def invalid_message(exc: ValidationError) -> InvalidMessageError:
    """Turn pydantic's error into an InvalidMessageError with a one-line reason."""
    details = exc.errors(include_url=False, include_context=False, include_input=False)
    parts = []
    for err in details[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "message"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = f" (+{len(details) - 5} more)" if len(details) > 5 else ""
    return InvalidMessageError(
        "invalid message: " + "; ".join(parts) + more, [dict(d) for d in details]
    )


MAX_BUTTON_VALUE_BYTES = 64
"""Longest button value, in UTF-8 bytes (Telegram's ``callback_data``; Discord's
``custom_id`` allows 100 characters, Slack's ``value`` 2,000)."""
MAX_BUTTON_LABEL = 75
"""Longest button label, in characters (Slack's limit; Discord allows 80)."""
MAX_BUTTONS = 25
"""Most buttons on one reply (Discord's five rows of five)."""


class Button(BaseModel):
    """A choice offered with a reply; pressing it sends ``value`` back as a new message.

    The press arrives through the same input as any message: ``text`` is the value, the
    author is who pressed, the conversation is the reply's, and ``metadata["button"]`` has
    the details (value, label, the platform's ids).

    Args:
        label: what the button shows (1-75 characters).
        value: what a press sends back (1-64 UTF-8 bytes, so it fits Telegram's
            ``callback_data`` and Discord's ``custom_id``).

    Example:
        >>> Button(label="Approve", value="approve:42").value
        'approve:42'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str = Field(min_length=1, max_length=MAX_BUTTON_LABEL)
    value: str = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Button:
        if not self.label.strip():
            raise ValueError("a button label must not be blank")
        size = len(self.value.encode())
        if size > MAX_BUTTON_VALUE_BYTES:
            raise ValueError(f"button value is {size} bytes, over {MAX_BUTTON_VALUE_BYTES}")
        return self


OUTCOME_KEY = "agent_runner.outcome"
"""``Reply.metadata`` key the runner sets on a reply it made itself instead of the agent's:
``"error"`` (the agent raised), ``"timeout"``, ``"budget"``, ``"payment"``. Outputs that can
say so differently (the HTTP API answers 5xx for ``error`` and ``timeout``) read it."""


USAGE_KEY = "agent_runner.usage"
"""``Reply.metadata`` key the runner sets on a turn's last reply when the agent's model calls
were metered through pricing: ``{"input_tokens": n, "output_tokens": n}`` for the request
(the HTTP API's ``usage``)."""

HISTORY_KEY = "agent_runner.history"
"""``Message.metadata`` key of earlier turns a stateless client sent with its message
(``[{"role": "user" | "assistant" | "system", "content": "..."}, ...]``, oldest first): the
runner puts them in the conversation's short-term memory before the turn when that memory is
empty (an OpenAI client resending the whole chat in ``messages``)."""


class Reply(BaseModel):
    """What an agent answers. An agent may also return a plain ``str`` (one Reply of text).

    Args:
        text: the reply's content; outputs split it to their platform's length limit.
        attachments: files by URL.
        files: files to upload with the reply (see :class:`File`).
        buttons: choices offered with the reply (on the last part); a press comes back as a
            message (see :class:`Button`). Outputs without buttons show the text only.
        targets: output names to deliver to, overriding the runner's routing for this reply.
        metadata: extra, output-specific data (JSON values).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    files: tuple[File, ...] = ()
    buttons: tuple[Button, ...] = Field(default=(), max_length=MAX_BUTTONS)
    targets: tuple[str, ...] | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


def conversation_message(
    original: Message,
    *,
    id: str,
    text: str,
    author: Author,
    metadata: dict[str, JsonValue] | None = None,
) -> Message:
    """A new message in ``original``'s conversation (an approval's decision, a follow-up):
    its source, conversation and platform details, shaped like a button press on it so a
    chat output answers in the right place (``metadata["button"]["message_id"]``).
    """
    details: dict[str, JsonValue] = {
        **original.metadata,
        **(metadata or {}),
        "button": {
            "value": text[:MAX_BUTTON_VALUE_BYTES],
            "label": author.name or author.id,
            "message_id": original.id,
        },
    }
    return Message.model_validate(
        {
            **original.model_dump(exclude={"attachments", "payment", "created_at"}),
            "id": id,
            "author": author.model_dump(),
            "text": text,
            "reply_to": original.id,
            "metadata": details,
        }
    )


__all__ = [
    "Attachment",
    "Author",
    "Button",
    "File",
    "HISTORY_KEY",
    "IMAGE_EXTENSIONS",
    "KEY_SEPARATOR",
    "MAX_ATTACHMENTS",
    "MAX_BUTTONS",
    "MAX_BUTTON_LABEL",
    "MAX_BUTTON_VALUE_BYTES",
    "MAX_DATA_URL_BYTES",
    "MAX_METADATA_BYTES",
    "MAX_TEXT_LENGTH",
    "MAX_URL_LENGTH",
    "Message",
    "OUTCOME_KEY",
    "Reply",
    "SOURCE_RULE",
    "USAGE_KEY",
    "conversation_message",
    "invalid_message",
]
