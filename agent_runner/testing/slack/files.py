"""The fake Slack's files: users share files (``url_private`` needs the bot token, as on
Slack), and the bot uploads with the external upload flow slack_sdk's ``files_upload_v2``
speaks: ``files.getUploadURLExternal`` -> a POST of the bytes to the returned URL ->
``files.completeUploadExternal``, which shares them in the channel (or thread)."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from agent_runner.testing.slack.objects import FakeSlackMessage, FakeSlackUser

if TYPE_CHECKING:
    from agent_runner.testing.slack.server import FakeSlack
    from agent_runner.testing.slack.webapi import SlackError

MAX_FILE_BYTES = 1024 * 1024 * 1024
"""Slack's limit on one file (1 GB)."""


@dataclass(slots=True)
class FakeSlackFile:
    """A file in the workspace (``data`` is empty until its upload arrives)."""

    id: str
    name: str
    mimetype: str
    length: int
    url_private: str
    data: bytes = field(default=b"", repr=False)
    title: str | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title or self.name,
            "mimetype": self.mimetype,
            "size": len(self.data),
            "url_private": self.url_private,
            "url_private_download": self.url_private + "?download=1",
        }


class SlackFiles:
    """Files of a :class:`FakeSlack` (``fake.files``)."""

    def __init__(self, fake: FakeSlack) -> None:
        self._fake = fake
        self.by_id: dict[str, FakeSlackFile] = {}
        self.uploads: list[FakeSlackFile] = []
        """Every file the bot shared (completed uploads), in order."""
        self.downloads: list[str] = []
        """The id of every file downloaded with the bot token."""
        self.refused_downloads = 0
        """Downloads without (or with a wrong) token."""

    def new(self, name: str, length: int, mimetype: str | None = None) -> FakeSlackFile:
        number = len(self.by_id) + 1
        file_id = f"F0FAKE{number:04d}"
        kind = mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream"
        url = f"{self._fake.root_url}/files-pri/{self._fake.team_id}-{file_id}/{name}"
        file = FakeSlackFile(file_id, name, kind, length, url)
        self.by_id[file_id] = file
        return file

    def methods(self) -> dict[str, Any]:
        return {
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/upload/v1/{file_id}", self._receive)
        app.router.add_get("/files-pri/{team_file}/{name}", self._serve)

    async def post_user_files(
        self,
        channel: str,
        text: str,
        files: Sequence[tuple[str, bytes] | tuple[str, bytes, str]],
        *,
        user: FakeSlackUser | None = None,
        mention_bot: bool = False,
        thread_ts: str | None = None,
    ) -> FakeSlackMessage:
        """A user shares ``files`` (``(name, bytes[, mimetype])``) with ``text``."""
        fake = self._fake
        shared = []
        for name, data, *kind in files:
            file = self.new(name, len(data), kind[0] if kind else None)
            file.data = data
            shared.append(file.payload())
        body = f"<@{fake.bot.id}> {text}" if mention_bot else text
        message = FakeSlackMessage(
            channel, fake.next_ts(), user or fake.user, body, thread_ts, files=shared
        )
        await fake.add_message(message)
        return message

    # -- HTTP ------------------------------------------------------------------------
    async def _receive(self, request: web.Request) -> web.Response:
        file = self.by_id.get(request.match_info["file_id"])
        if file is None:
            return web.Response(status=404, text="unknown upload")
        data = await request.read()
        if len(data) != file.length:
            return web.Response(status=400, text="length does not match")
        file.data = data
        return web.Response(text=f"OK - {len(data)}")

    async def _serve(self, request: web.Request) -> web.Response:
        file_id = request.match_info["team_file"].rsplit("-", 1)[-1]
        file = self.by_id.get(file_id)
        if request.headers.get("Authorization") != f"Bearer {self._fake.bot_token}":
            self.refused_downloads += 1  # Slack answers its sign-in page: no bytes
            return web.Response(status=302, headers={"Location": "https://fake.slack.com/"})
        if file is None:
            return web.Response(status=404, text="Not Found")
        self.downloads.append(file_id)
        return web.Response(body=file.data, content_type=file.mimetype)

    # -- Web API methods -------------------------------------------------------------
    async def _get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("filename") or "")
        try:
            length = int(params.get("length") or 0)
        except ValueError:
            length = 0
        if not name or length <= 0:
            raise _error("invalid_arguments")
        if length > MAX_FILE_BYTES:
            raise _error("file_too_large")
        file = self.new(name, length)
        return {"upload_url": f"{self._fake.root_url}/upload/v1/{file.id}", "file_id": file.id}

    async def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        fake = self._fake
        try:
            entries = json.loads(str(params.get("files") or "[]"))
        except json.JSONDecodeError:
            raise _error("invalid_arguments") from None
        files = [self.by_id.get(str(entry.get("id"))) for entry in entries]
        if not files or any(f is None or len(f.data) != f.length for f in files):
            raise _error("file_not_found")
        channel = params.get("channel_id")
        shared = []
        for entry, file in zip(entries, files, strict=True):
            assert file is not None
            file.title = entry.get("title") or file.name
            self.uploads.append(file)
            shared.append(file.payload())
        if channel:
            if channel not in fake.channels:
                raise _error("channel_not_found")
            text = str(params.get("initial_comment") or "")
            thread = params.get("thread_ts") or None
            message = FakeSlackMessage(
                channel, fake.next_ts(), fake.bot, text, thread, files=shared
            )
            fake.sent_at.append(fake.clock())
            await fake.add_message(message)
        return {"files": shared}


def _error(code: str) -> SlackError:
    from agent_runner.testing.slack.webapi import SlackError

    return SlackError(code)


__all__ = ["MAX_FILE_BYTES", "FakeSlackFile", "SlackFiles"]
