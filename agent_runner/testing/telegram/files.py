"""The fake Telegram's files: users send photos and documents, the bot fetches them with
``getFile`` and ``/file/bot<token>/<path>``, and uploads its own with ``sendPhoto`` and
``sendDocument`` (multipart), under Telegram's size limits."""

from __future__ import annotations

import hashlib
import itertools
import mimetypes
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from agent_runner.testing.telegram.objects import FakeChat, FakeFile, FakeMessage, FakeUser

if TYPE_CHECKING:
    from agent_runner.testing.telegram.server import FakeTelegram

MAX_PHOTO_UPLOAD = 10 * 1000 * 1000
"""Telegram's limit on a photo a bot sends."""
MAX_UPLOAD = 50 * 1000 * 1000
"""Telegram's limit on any file a bot sends."""
MAX_DOWNLOAD = 20 * 1000 * 1000
"""Telegram's limit on a file a bot downloads (``getFile`` refuses bigger ones)."""

Method = Callable[[dict[str, Any]], Awaitable[Any]]


class FakeFiles:
    """Files of a :class:`FakeTelegram` (``fake.files``): stored, served and uploaded."""

    def __init__(self, fake: FakeTelegram) -> None:
        self._fake = fake
        self._ids = itertools.count(1)
        self.by_id: dict[str, FakeFile] = {}
        self.uploads: list[FakeFile] = []
        """Every file the bot uploaded, in order."""
        self.downloads: list[str] = []
        """The path of every file the bot downloaded."""

    def add(
        self, data: bytes, *, name: str | None = None, content_type: str | None = None
    ) -> FakeFile:
        """Store a file; ``getFile`` and the file server know it from now on."""
        number = next(self._ids)
        kind = content_type or mimetypes.guess_type(name or "")[0] or "application/octet-stream"
        extension = mimetypes.guess_extension(kind) or ".bin"
        digest = hashlib.sha256(data).hexdigest()[:12]
        folder = "photos" if kind.startswith("image/") else "documents"
        file = FakeFile(
            file_id=f"FILE{number:04d}{digest}",
            file_unique_id=f"U{number}{digest[:6]}",
            data=data,
            name=name,
            content_type=kind,
            path=f"{folder}/file_{number}{extension}",
        )
        self.by_id[file.file_id] = file
        return file

    def methods(self) -> dict[str, Method]:
        return {
            "getfile": self._get_file,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
        }

    # -- users -----------------------------------------------------------------------
    def send_user_file(
        self,
        chat: FakeChat,
        data: bytes,
        *,
        name: str | None = None,
        content_type: str | None = None,
        caption: str = "",
        photo: bool = True,
        author: FakeUser | None = None,
    ) -> FakeMessage:
        """A user sends a photo (``photo=True``) or a document, with a caption."""
        fake = self._fake
        if photo and content_type is None:
            content_type = "image/jpeg"  # Telegram re-encodes every photo as a JPEG
        file = self.add(data, name=name, content_type=content_type)
        message = FakeMessage(
            message_id=fake.next_message_id(chat.id),
            chat=chat,
            author=author or (chat.user if chat.type == "private" and chat.user else fake.user),
            text=caption,
            media=_photo(file) if photo else _document(file),
            file=file,
        )
        fake.add_message(message)
        fake.push_update({"message": message.payload()})
        return message

    # -- the file server -------------------------------------------------------------
    async def serve(self, request: web.Request) -> web.Response:
        """``GET /file/bot<token>/<path>``."""
        if request.match_info["token"] != self._fake.token:
            return web.Response(status=401, text="Unauthorized")
        path = request.match_info["path"]
        for file in self.by_id.values():
            if file.path == path:
                self.downloads.append(path)
                return web.Response(body=file.data, content_type=file.content_type)
        return web.Response(status=404, text="Not Found")

    # -- Bot API methods -------------------------------------------------------------
    async def _get_file(self, params: dict[str, Any]) -> Any:
        from agent_runner.testing.telegram.api import ApiError

        file = self.by_id.get(str(params.get("file_id") or ""))
        if file is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(file.data) > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return file.payload()

    async def _send_photo(self, params: dict[str, Any]) -> Any:
        return await self._send(params, "photo", MAX_PHOTO_UPLOAD)

    async def _send_document(self, params: dict[str, Any]) -> Any:
        return await self._send(params, "document", MAX_UPLOAD)

    async def _send(self, params: dict[str, Any], kind: str, limit: int) -> Any:
        from agent_runner.testing.telegram.api import ApiError, _int

        fake = self._fake
        chat = fake.chats.get(_int(params, "chat_id"))
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        upload = params.get(kind)
        if isinstance(upload, str) and upload in self.by_id:
            file = self.by_id[upload]  # sent again by file_id
        elif isinstance(upload, web.FileField):
            data = upload.file.read()
            if len(data) > limit:
                raise ApiError(413, "Request Entity Too Large")
            file = self.add(data, name=upload.filename, content_type=upload.content_type)
        else:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        if kind == "photo" and not file.content_type.startswith("image/"):
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        self.uploads.append(file)
        reply_to = None
        reference = params.get("reply_parameters")
        if isinstance(reference, dict) and reference.get("message_id") is not None:
            reply_to = fake.find(chat.id, int(reference["message_id"]))
        thread = params.get("message_thread_id")
        message = fake.add_message(
            FakeMessage(
                message_id=fake.next_message_id(chat.id),
                chat=chat,
                author=fake.bot,
                text=str(params.get("caption") or ""),
                reply_to=reply_to,
                reply_markup=params.get("reply_markup"),
                thread_id=int(thread) if thread is not None else None,
                media=_photo(file) if kind == "photo" else _document(file),
                file=file,
            )
        )
        fake.sent_at.append(fake.clock())
        return message.payload()


def _photo(file: FakeFile) -> dict[str, Any]:
    size = {"file_id": file.file_id, "file_unique_id": file.file_unique_id}
    return {
        "photo": [
            {**size, "file_id": file.file_id + "s", "width": 90, "height": 90, "file_size": 1},
            {**size, "width": 1280, "height": 960, "file_size": len(file.data)},
        ]
    }


def _document(file: FakeFile) -> dict[str, Any]:
    document: dict[str, Any] = {
        "file_id": file.file_id,
        "file_unique_id": file.file_unique_id,
        "mime_type": file.content_type,
        "file_size": len(file.data),
    }
    if file.name:
        document["file_name"] = file.name
    return {"document": document}


__all__ = ["MAX_DOWNLOAD", "MAX_PHOTO_UPLOAD", "MAX_UPLOAD", "FakeFiles"]
