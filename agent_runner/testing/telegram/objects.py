"""The fake Telegram's world: users, chats, messages, and their Bot API JSON."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class FakeUser:
    """A Telegram account (``is_bot`` for bots)."""

    id: int
    first_name: str
    username: str | None = None
    is_bot: bool = False

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        return data


@dataclass(frozen=True, slots=True)
class FakeChat:
    """A chat: ``private`` (id = the user's id), ``group`` or ``supergroup`` (negative ids)."""

    id: int
    type: str
    title: str | None = None
    user: FakeUser | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private" and self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.username:
                data["username"] = self.user.username
        else:
            data["title"] = self.title or "group"
        return data


@dataclass(frozen=True, slots=True)
class RecordedEdit:
    """One ``editMessageText`` the bot made: when (on the fake's clock) and the new text."""

    at: float
    chat_id: int
    message_id: int
    text: str


@dataclass(frozen=True, slots=True)
class FakeFile:
    """A file on the fake's file server (``getFile``, ``/file/bot<token>/<path>``)."""

    file_id: str
    file_unique_id: str
    data: bytes = field(repr=False)
    name: str | None
    content_type: str
    path: str

    def payload(self) -> dict[str, Any]:
        """The Bot API ``File`` object."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.path,
        }


@dataclass(slots=True)
class FakeMessage:
    """A message in a chat. ``text`` is what users see; ``html`` what the bot sent."""

    message_id: int
    chat: FakeChat
    author: FakeUser
    text: str
    date: int = field(default_factory=lambda: int(time.time()))
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_to: FakeMessage | None = None
    reply_markup: dict[str, Any] | None = None
    html: str | None = None
    thread_id: int | None = None
    edits: list[RecordedEdit] = field(default_factory=list)
    media: dict[str, Any] | None = None
    """A photo or document message's ``{"photo": [...]}`` or ``{"document": {...}}``; its
    ``text`` is then the caption."""
    file: FakeFile | None = None
    """The file a photo or document message carries (what the bot uploaded, or a user sent)."""

    @property
    def reply_to_id(self) -> int | None:
        return self.reply_to.message_id if self.reply_to is not None else None

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """``(label, callback_data)`` of its inline keyboard, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    def payload(self, *, nested: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.author.payload(),
            "chat": self.chat.payload(),
            "date": self.date,
        }
        if self.media is not None:
            data.update(self.media)
            if self.text:
                data["caption"] = self.text
            if self.entities:
                data["caption_entities"] = self.entities
        else:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        if self.edits:
            data["edit_date"] = self.date
        if self.thread_id is not None:
            data["message_thread_id"] = self.thread_id
            data["is_topic_message"] = True
        if self.reply_markup:
            data["reply_markup"] = self.reply_markup
        if self.reply_to is not None and not nested:
            data["reply_to_message"] = self.reply_to.payload(nested=True)
        return data


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def entity(kind: str, text: str, start: int, length: int, **extra: Any) -> dict[str, Any]:
    """A MessageEntity with UTF-16 offsets for ``text[start:start+length]``."""
    return {
        "type": kind,
        "offset": utf16_len(text[:start]),
        "length": utf16_len(text[start : start + length]),
        **extra,
    }


__all__ = [
    "FakeChat",
    "FakeFile",
    "FakeMessage",
    "FakeUser",
    "RecordedEdit",
    "entity",
    "utf16_len",
]
