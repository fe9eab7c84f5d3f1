"""Telegram files both ways: photos and documents in (``getFile``), uploads out.

In: a photo (its largest size) or a document becomes an
:class:`~agent_runner.message.Attachment` whose ``id`` is the ``file_id`` and whose URL is a
reference, ``telegram-file:<file_id>``; the real file URL holds the bot token
(``{api}/file/bot<token>/<path>``), so it is resolved only when an agent fetches the file, and
is never logged, put in an error nor shown to a model (a model gets the bytes as ``data:``).

Out: a reply's :class:`~agent_runner.message.File` goes up with ``sendPhoto`` (images up to
10 MB) or ``sendDocument`` (anything up to 50 MB), multipart, as a reply to the message;
a bigger file is refused before anything is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from yarl import URL

from agent_runner.errors import AgentRunnerError, MediaError
from agent_runner.media import ResolvedFile, check_upload
from agent_runner.message import Attachment, File
from connectors._chat.calls import ApiCaller
from connectors.telegram.sdk import telegram

FILE_SCHEME = "telegram-file:"
"""Attachment URLs of Telegram files: ``telegram-file:<file_id>``."""
MAX_PHOTO_BYTES = 10 * 1000 * 1000
"""Largest photo ``sendPhoto`` takes; bigger images go as documents."""
MAX_UPLOAD_BYTES = 50 * 1000 * 1000
"""Largest file a bot uploads (``sendDocument``)."""
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})


def attachments(message: telegram.Message) -> list[dict[str, Any]]:
    """The attachments of a Telegram message: its photo (largest size) and its document."""
    found: list[dict[str, Any]] = []
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        found.append(
            {
                "url": FILE_SCHEME + largest.file_id,
                "id": largest.file_id,
                "filename": f"photo-{largest.file_unique_id}.jpg",
                "content_type": "image/jpeg",
                "size": largest.file_size,
            }
        )
    document = message.document
    if document is not None:
        found.append(
            {
                "url": FILE_SCHEME + document.file_id,
                "id": document.file_id,
                "filename": document.file_name,
                "content_type": document.mime_type,
                "size": document.file_size,
            }
        )
    return found


async def resolve(
    call: ApiCaller, bot: telegram.Bot, attachment: Attachment, api_base: str
) -> ResolvedFile:
    """The download URL of a Telegram attachment (``getFile``; it holds the token)."""
    name = attachment.filename or "attachment"
    file_id = attachment.id
    if file_id is None and attachment.url.startswith(FILE_SCHEME):
        file_id = attachment.url[len(FILE_SCHEME) :]
    if not file_id:
        return ResolvedFile(url=attachment.url, public=True)
    try:
        found = await call("getFile", lambda: bot.get_file(file_id))
    except AgentRunnerError as exc:
        raise MediaError(f"{name}: Telegram getFile failed ({type(exc).__name__})") from None
    if not found.file_path:
        raise MediaError(f"{name}: Telegram gave no file path (over its 20 MB download limit?)")
    return ResolvedFile(url=found.file_path, public=False, trusted_host=URL(api_base).host)


def check_uploads(files: Sequence[File]) -> None:
    """Refuse, before anything is sent, a file past Telegram's upload limit."""
    for file in files:
        check_upload(file.name, file.size, limit=MAX_UPLOAD_BYTES, platform="Telegram")


def as_photo(file: File) -> bool:
    """Sent with ``sendPhoto`` (shown inline) rather than as a document."""
    return file.content_type in PHOTO_TYPES and file.size <= MAX_PHOTO_BYTES


async def upload(
    call: ApiCaller,
    bot: telegram.Bot,
    file: File,
    *,
    chat_id: int,
    thread_id: int | None,
    reply: telegram.ReplyParameters | None,
    markup: telegram.InlineKeyboardMarkup | None,
) -> int:
    """Upload one file to the chat; the sent message's id."""
    data = file.data if file.data is not None else await asyncio.to_thread(file.read)
    options: dict[str, Any] = {
        "filename": file.name,
        "reply_parameters": reply,
        "reply_markup": markup,
        "message_thread_id": thread_id,
    }
    if as_photo(file):
        sent = await call("sendPhoto", lambda: bot.send_photo(chat_id, data, **options))
    else:
        sent = await call("sendDocument", lambda: bot.send_document(chat_id, data, **options))
    return int(sent.message_id)


__all__ = [
    "FILE_SCHEME",
    "MAX_PHOTO_BYTES",
    "MAX_UPLOAD_BYTES",
    "PHOTO_TYPES",
    "as_photo",
    "attachments",
    "check_uploads",
    "resolve",
    "upload",
]
