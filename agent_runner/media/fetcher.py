"""Downloading an attachment on demand: :class:`MediaFetcher` (``context.media`` in agents).

Connectors fill :attr:`~agent_runner.message.Message.attachments` with references, never
bytes. An agent that wants a file asks for it::

    async def describe(message, context):
        for attachment in message.attachments:
            file = await context.media.fetch(attachment)   # bytes, name, content type
            ...

The connector that received the message says where the bytes are (an
:class:`AttachmentResolver`: Telegram turns a ``file_id`` into a file URL with ``getFile``,
Slack adds ``Authorization: Bearer``); the fetch goes through the outbound guard (a URL that
points at a private address is refused), under :class:`~agent_runner.media.MediaLimits`
(size, announced and actual; content type). URLs and headers that carry a platform token
are never logged nor put in an error message.
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import aiohttp
from yarl import URL

from agent_runner.errors import MediaError, OutboundRefusedError
from agent_runner.media.limits import MediaLimits, describe_size
from agent_runner.message import Attachment
from agent_runner.outbound import OutboundGuard

_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class ResolvedFile:
    """Where an attachment's bytes are, as the connector that received it says.

    Attributes:
        url: the download URL (may carry a token: never logged).
        headers: headers the download needs (``Authorization``; secret).
        public: true when anyone (a model endpoint) can fetch ``url`` without them.
        trusted_host: the platform API host the operator configured (the bot's own API
            base), which the outbound guard lets through.
    """

    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    public: bool = False
    trusted_host: str | None = None

    def __repr__(self) -> str:  # the URL may carry a token
        return f"ResolvedFile(public={self.public}, trusted_host={self.trusted_host!r})"


@runtime_checkable
class AttachmentResolver(Protocol):
    """A connector that knows how its platform's attachments are downloaded."""

    @property
    def name(self) -> str: ...

    async def resolve_attachment(self, attachment: Attachment) -> ResolvedFile:
        """Where ``attachment``'s bytes are and the auth they need."""
        ...


@dataclass(frozen=True, slots=True)
class FetchedFile:
    """A downloaded attachment."""

    data: bytes = field(repr=False)
    name: str
    content_type: str

    @property
    def size(self) -> int:
        return len(self.data)

    def data_url(self) -> str:
        """The file as a ``data:`` URL (base64), for a model that cannot fetch a URL."""
        encoded = base64.b64encode(self.data).decode("ascii")
        return f"data:{self.content_type};base64,{encoded}"


def parse_data_url(url: str, name: str) -> tuple[bytes, str]:
    """``(bytes, content type)`` of a ``data:`` URL.

    Raises:
        MediaError: a malformed one.

    >>> parse_data_url("data:text/plain;base64,aGk=", "a")
    (b'hi', 'text/plain')
    """
    head, comma, body = url[5:].partition(",")
    if not comma:
        raise MediaError(f"{name}: a data: URL without a comma")
    parts = head.split(";")
    content_type = parts[0] or "text/plain"
    try:
        if "base64" in parts[1:]:
            return base64.b64decode(body, validate=True), content_type
    except (binascii.Error, ValueError):
        raise MediaError(f"{name}: a data: URL with invalid base64") from None
    return urllib.parse.unquote_to_bytes(body), content_type


class MediaFetcher:
    """Downloads attachments through the outbound guard, under :class:`MediaLimits`.

    Args:
        resolvers: connector name -> its :class:`AttachmentResolver` (the runner passes
            its inputs that are one). A message from another source is fetched by URL.
        guard: the outbound guard (default: ``AGENT_RUNNER_OUTBOUND_ALLOW``'s).
        limits: size and types (default: ``AGENT_RUNNER_MEDIA_*``).
        timeout: seconds for one whole download.
        source: the connector of the message being handled (:meth:`for_source`).
    """

    def __init__(
        self,
        resolvers: Mapping[str, AttachmentResolver] | None = None,
        *,
        guard: OutboundGuard | None = None,
        limits: MediaLimits | None = None,
        timeout: float = 30.0,
        source: str | None = None,
    ) -> None:
        self._resolvers = dict(resolvers or {})
        self._guard = guard
        self._limits = limits
        self.timeout = timeout
        self.source = source

    @classmethod
    def for_connectors(cls, connectors: Iterable[object], **options: object) -> MediaFetcher:
        """A fetcher with every connector of ``connectors`` that resolves attachments."""
        found = {c.name: c for c in connectors if isinstance(c, AttachmentResolver)}
        return cls(found, **options)  # type: ignore[arg-type]

    def for_source(self, source: str) -> MediaFetcher:
        """This fetcher for attachments of messages from ``source``."""
        # What copy.copy does for this plain object, without its generic protocol (once a
        # turn: 0.4 against 1.7 µs by timeit).
        bound = object.__new__(type(self))
        bound.__dict__.update(self.__dict__)
        bound.source = source
        return bound

    @property
    def guard(self) -> OutboundGuard:
        if self._guard is None:
            self._guard = OutboundGuard.from_env()
        return self._guard

    @property
    def limits(self) -> MediaLimits:
        if self._limits is None:
            self._limits = MediaLimits.from_env()
        return self._limits

    async def resolve(self, attachment: Attachment) -> ResolvedFile:
        """Where the attachment's bytes are (its connector's answer, else its URL)."""
        resolver = self._resolvers.get(self.source or "")
        if resolver is not None:
            return await resolver.resolve_attachment(attachment)
        return ResolvedFile(url=attachment.url, public=True)

    async def model_url(self, attachment: Attachment) -> str:
        """A URL a model endpoint can read the attachment from: its own URL when that is
        public, else the file as a ``data:`` URL (fetched, under the limits)."""
        if attachment.url.startswith("data:"):
            return attachment.url
        resolved = await self.resolve(attachment)
        if resolved.public and not resolved.headers:
            return resolved.url
        return (await self.fetch(attachment, resolved)).data_url()

    async def fetch(
        self, attachment: Attachment, resolved: ResolvedFile | None = None
    ) -> FetchedFile:
        """Download ``attachment``.

        Raises:
            MediaError: too big, a type not accepted, or the download failed (the message
                names the file, never the URL).
            OutboundRefusedError: the URL points at an address the guard refuses.
        """
        name = attachment.filename or "attachment"
        limits = self.limits
        limits.check(name, attachment.size, attachment.content_type)
        if attachment.url.startswith("data:"):
            data, content_type = parse_data_url(attachment.url, name)
            limits.check(name, len(data), attachment.content_type or content_type)
            return FetchedFile(data, name, attachment.content_type or content_type)
        resolved = resolved or await self.resolve(attachment)
        guard = self.guard
        if resolved.trusted_host:
            guard = guard.allowing(resolved.trusted_host)
        try:
            url = guard.check_url(resolved.url)
            return await self._download(guard, url, resolved, attachment, name)
        except OutboundRefusedError as exc:
            raise OutboundRefusedError(f"{name}: {exc.reason}", address=exc.address) from None
        except (aiohttp.ClientError, TimeoutError) as exc:  # their text may hold the URL
            raise MediaError(f"{name}: the download failed ({type(exc).__name__})") from None

    async def _download(
        self,
        guard: OutboundGuard,
        url: URL,
        resolved: ResolvedFile,
        attachment: Attachment,
        name: str,
    ) -> FetchedFile:
        limits = self.limits
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with (
            guard.session(timeout=timeout) as session,
            session.get(url, headers=dict(resolved.headers)) as response,
        ):
            if response.status != 200:
                raise MediaError(f"{name}: the file server answered HTTP {response.status}")
            content_type = _content_type(response, attachment)
            limits.check(name, response.content_length, content_type)
            data = bytearray()
            async for chunk in response.content.iter_chunked(_CHUNK):
                data += chunk
                if len(data) > limits.max_bytes:
                    raise MediaError(
                        f"{name}: over the limit of {describe_size(limits.max_bytes)} "
                        "(stopped downloading)"
                    )
        return FetchedFile(bytes(data), name, content_type)


def _content_type(response: aiohttp.ClientResponse, attachment: Attachment) -> str:
    """The server's type, unless it names none or only ``application/octet-stream`` (file
    servers often do) and the platform said more."""
    announced = response.content_type if response.headers.get("Content-Type") else None
    if announced in (None, "application/octet-stream") and attachment.content_type:
        return attachment.content_type
    return announced or "application/octet-stream"


__all__ = [
    "AttachmentResolver",
    "FetchedFile",
    "MediaFetcher",
    "ResolvedFile",
    "parse_data_url",
]
