"""The fake Slack's world: users, channels, messages, and their JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class FakeSlackUser:
    """A member of the workspace (``bot_id`` set for bot users)."""

    id: str
    name: str
    bot_id: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedUpdate:
    """One ``chat.update`` the bot made: when (on the fake's clock) and the new text."""

    at: float
    channel: str
    ts: str
    text: str


@dataclass(slots=True)
class FakeSlackMessage:
    """A message in a channel or DM. ``thread_ts`` is its thread's parent, if any."""

    channel: str
    ts: str
    user: FakeSlackUser
    text: str
    thread_ts: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    updates: list[RecordedUpdate] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    """Files shared with it (Slack's file objects)."""

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """``(label, value)`` of its buttons, in order."""
        return [
            (element["text"]["text"], element.get("value", ""))
            for block in self.blocks
            if block.get("type") == "actions"
            for element in block.get("elements", [])
            if element.get("type") == "button"
        ]

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "message",
            "user": self.user.id,
            "text": self.text,
            "ts": self.ts,
        }
        if self.user.bot_id:
            data["bot_id"] = self.user.bot_id
        else:
            data["user_profile"] = {"display_name": self.user.name, "real_name": self.user.name}
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.blocks:
            data["blocks"] = self.blocks
        if self.metadata:
            data["metadata"] = self.metadata
        if self.files:
            data["files"] = self.files
            data["subtype"] = "file_share"
            data["upload"] = True
        return data


__all__ = ["FakeSlackMessage", "FakeSlackUser", "RecordedUpdate"]
