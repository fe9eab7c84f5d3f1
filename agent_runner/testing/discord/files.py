"""The fake Discord's files: its CDN serves attachments, users post files, and the bot's
multipart uploads (``payload_json`` + ``files[n]``) are read and recorded under Discord's
limits (10 files a message, 10 MiB a file: 413 past it, as Discord answers)."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from agent_runner.testing.discord.payloads import FakeAttachment, FakeMessage

if TYPE_CHECKING:
    from agent_runner.testing.discord.server import FakeDiscord

MAX_FILES = 10
"""Most files on one message."""
MAX_FILE_BYTES = 10 * 1024 * 1024
"""Largest file a bot uploads (a server without boosts)."""


class UploadError(Exception):
    """A refused upload: the HTTP status, Discord's message and its JSON error code."""

    def __init__(self, status: int, message: str, code: int) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class DiscordFiles:
    """Files of a :class:`FakeDiscord` (``fake.files``)."""

    def __init__(self, fake: FakeDiscord) -> None:
        self._fake = fake
        self.data: dict[str, bytes] = {}
        """Attachment id -> its bytes."""
        self.uploads: list[FakeAttachment] = []
        """Every file the bot uploaded, in order."""
        self.downloads: list[str] = []
        """The attachment id of every CDN download."""

    def store(self, name: str, data: bytes, content_type: str | None = None) -> FakeAttachment:
        """Put a file on the CDN; its attachment."""
        attachment_id = self._fake._ids()
        kind = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        self.data[attachment_id] = data
        root = self._fake.url.rsplit("/api/", 1)[0]  # the CDN, beside the REST API
        url = f"{root}/attachments/{attachment_id}/{name}"
        return FakeAttachment(attachment_id, name, url, size=len(data), content_type=kind)

    def attachments(
        self, given: Iterable[tuple[str, str] | FakeAttachment]
    ) -> tuple[FakeAttachment, ...]:
        """Attachments for a user's message: stored ones, or ``(filename, url)`` pairs."""
        return tuple(
            a if isinstance(a, FakeAttachment) else FakeAttachment(self._fake._ids(), a[0], a[1])
            for a in given
        )

    async def post_user_files(
        self,
        channel_id: str,
        content: str,
        files: Sequence[tuple[str, bytes] | tuple[str, bytes, str]],
        **options: Any,
    ) -> FakeMessage:
        """A user posts ``files`` (``(name, bytes[, content type])``) with ``content``."""
        stored = [self.store(*file) for file in files]
        return await self._fake.post_user_message(
            channel_id, content, attachments=stored, **options
        )

    async def serve(self, request: web.Request) -> web.Response:
        """``GET /attachments/<id>/<name>`` (the CDN; signed URLs are not checked)."""
        attachment_id = request.match_info["id"]
        data = self.data.get(attachment_id)
        if data is None:
            return web.Response(status=404, text="Not Found")
        self.downloads.append(attachment_id)
        kind = mimetypes.guess_type(request.match_info["name"])[0] or "application/octet-stream"
        return web.Response(body=data, content_type=kind)

    async def read_body(self, request: web.Request) -> tuple[dict[str, Any], list[FakeAttachment]]:
        """A message body: JSON, or multipart with ``payload_json`` and ``files[n]``.

        Raises:
            UploadError: too many files, one too big, or a malformed body.
        """
        if request.content_type != "multipart/form-data":
            try:
                return await request.json(), []
            except json.JSONDecodeError:
                raise UploadError(400, "400: Bad Request", 50109) from None
        body: dict[str, Any] = {}
        files: list[FakeAttachment] = []
        reader = await request.multipart()
        async for part in reader:
            if part is None:
                continue
            name = getattr(part, "name", None) or ""
            if name == "payload_json":
                body = json.loads(await part.text())  # type: ignore[union-attr]
            elif name.startswith("files["):
                data = bytes(await part.read())  # type: ignore[union-attr]
                filename = getattr(part, "filename", None) or "file"
                if len(data) > MAX_FILE_BYTES:
                    raise UploadError(413, "Request entity too large", 40005)
                kind = part.headers.get("Content-Type")
                if kind == "application/octet-stream":
                    kind = None  # Discord finds the type itself (here: by the name)
                files.append(self.store(filename, data, kind))
        if len(files) > MAX_FILES:
            raise UploadError(400, "Invalid Form Body: too many attachments", 50035)
        self.uploads.extend(files)
        return body, files


__all__ = ["MAX_FILES", "MAX_FILE_BYTES", "DiscordFiles", "UploadError"]
