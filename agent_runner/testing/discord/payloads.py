"""The fake Discord's world (users, guilds, channels, messages) and their JSON payloads.

Payload shapes follow Discord API v10 as discord.py 2.x reads them: only the keys a client
needs, with the types Discord uses (snowflakes as strings, ISO-8601 timestamps).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
"""2015-01-01T00:00:00Z, the origin of Discord snowflakes."""

JSON = dict[str, Any]


class SnowflakeFactory:
    """Time-ordered, strictly increasing snowflake ids (as Discord makes them)."""

    def __init__(self) -> None:
        self._last = 0
        self._backdated = 0

    def __call__(self, at: datetime | None = None) -> str:
        """A new id for now, or for the moment ``at`` (backdated ids are unique, not ordered
        with the others)."""
        if at is not None:
            self._backdated = (self._backdated + 1) & 0x3FFFFF
            ms = int(at.timestamp() * 1000) - DISCORD_EPOCH_MS
            return str((ms << 22) | self._backdated)
        now = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(self._last + 1, now)
        return str(self._last)

    def in_shard(self, shard_id: int, shard_count: int) -> str:
        """A new id (a guild's) that routes to shard ``shard_id`` of ``shard_count``."""
        while (int(self()) >> 22) % shard_count != shard_id:
            self._last = ((self._last >> 22) + 1) << 22  # the next millisecond's ids
        return str(self._last)


def content_visible(message: FakeMessage, bot_id: str) -> bool:
    """Without the MESSAGE_CONTENT intent, content shows only in DMs, mentions of the bot
    (or its role) and the bot's own messages."""
    return (
        message.guild_id is None
        or message.author.id == bot_id
        or any(u.id == bot_id for u in message.mentions)
        or bool(message.mention_roles)
    )


def snowflake_time(snowflake: str) -> datetime:
    """When a snowflake was made."""
    ms = (int(snowflake) >> 22) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat()


@dataclass(frozen=True, slots=True)
class FakeUser:
    """A Discord user (or bot account) of the fake server."""

    id: str
    username: str
    bot: bool = False
    global_name: str | None = None

    def payload(self) -> JSON:
        data: JSON = {
            "id": self.id,
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass(slots=True)
class FakeChannel:
    """A text channel, a thread (``parent_id`` set) or a DM channel (``guild_id`` None)."""

    id: str
    name: str
    guild_id: str | None
    parent_id: str | None = None
    is_thread: bool = False
    recipient: FakeUser | None = None
    position: int = 0
    last_message_id: str | None = None
    read_only: bool = False
    """The bot may read but not post here (sending answers 403 Missing Permissions)."""

    def payload(self) -> JSON:
        if self.guild_id is None:
            return {
                "id": self.id,
                "type": 1,
                "last_message_id": self.last_message_id,
                "recipients": [self.recipient.payload()] if self.recipient else [],
            }
        data: JSON = {
            "id": self.id,
            "guild_id": self.guild_id,
            "name": self.name,
            "type": 11 if self.is_thread else 0,
            "position": self.position,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": self.parent_id,
            "last_message_id": self.last_message_id,
            "rate_limit_per_user": 0,
        }
        if self.is_thread:
            data["owner_id"] = self.recipient.id if self.recipient else "1"
            data["member_count"] = 1
            data["message_count"] = 0
            data["thread_metadata"] = {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso(datetime.now(UTC)),
                "locked": False,
            }
        return data


@dataclass(slots=True)
class FakeGuild:
    """A guild (server) with its text channels and threads."""

    id: str
    name: str
    bot_role_id: str
    """The bot's managed role (what a user mentions when picking "@bot" as a role)."""
    channels: list[FakeChannel] = field(default_factory=list)

    def payload(self, bot: FakeUser, *, joined_at: datetime) -> JSON:
        text = [c for c in self.channels if not c.is_thread]
        threads = [c for c in self.channels if c.is_thread]
        return {
            "id": self.id,
            "name": self.name,
            "icon": None,
            "owner_id": "1",
            "unavailable": False,
            "member_count": 2,
            "large": False,
            "features": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "joined_at": iso(joined_at),
            "roles": [
                {
                    "id": self.id,
                    "name": "@everyone",
                    "color": 0,
                    "hoist": False,
                    "position": 0,
                    "permissions": "1071698660929",
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                },
                {
                    "id": self.bot_role_id,
                    "name": bot.username,
                    "color": 0,
                    "hoist": False,
                    "position": 1,
                    "permissions": "0",
                    "managed": True,
                    "mentionable": True,
                    "flags": 0,
                    "tags": {"bot_id": bot.id},
                },
            ],
            "emojis": [],
            "stickers": [],
            "channels": [c.payload() for c in text],
            "threads": [c.payload() for c in threads],
            "members": [
                {
                    "user": bot.payload(),
                    "roles": [self.bot_role_id],
                    "joined_at": iso(joined_at),
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                }
            ],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
        }


@dataclass(frozen=True, slots=True)
class FakeAttachment:
    """A file on a message, by URL."""

    id: str
    filename: str
    url: str
    size: int = 0
    content_type: str | None = None

    def payload(self) -> JSON:
        data: JSON = {
            "id": self.id,
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
        }
        if self.content_type:
            data["content_type"] = self.content_type
        return data


@dataclass(frozen=True, slots=True)
class FakeMessage:
    """A message as the fake server stores it.

    ``reply_to`` is the id of the message it answers (its ``message_reference``).
    """

    id: str
    channel_id: str
    guild_id: str | None
    author: FakeUser
    content: str
    reply_to: str | None = None
    mentions: tuple[FakeUser, ...] = ()
    mention_roles: tuple[str, ...] = ()
    attachments: tuple[FakeAttachment, ...] = ()
    webhook_id: str | None = None
    components: tuple[JSON, ...] = ()

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """``(label, custom_id)`` of its buttons, row by row."""
        return [
            (str(item.get("label", "")), str(item.get("custom_id", "")))
            for row in self.components
            for item in row.get("components", [])
            if item.get("type") == 2
        ]

    @property
    def created_at(self) -> datetime:
        return snowflake_time(self.id)

    def payload(self, *, referenced: FakeMessage | None = None, content: str | None = None) -> JSON:
        """The MESSAGE_CREATE / REST message object (``content`` overrides, for intents)."""
        data: JSON = {
            "id": self.id,
            "channel_id": self.channel_id,
            "type": 19 if self.reply_to else 0,
            "author": self.author.payload(),
            "content": self.content if content is None else content,
            "timestamp": iso(self.created_at),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [u.payload() for u in self.mentions],
            "mention_roles": list(self.mention_roles),
            "attachments": [a.payload() for a in self.attachments],
            "embeds": [],
            "pinned": False,
            "flags": 0,
            "components": list(self.components),
        }
        if self.guild_id is not None:
            data["guild_id"] = self.guild_id
        if self.webhook_id is not None:
            data["webhook_id"] = self.webhook_id
        if self.reply_to is not None:
            data["message_reference"] = {
                "type": 0,
                "message_id": self.reply_to,
                "channel_id": self.channel_id,
            }
            if self.guild_id is not None:
                data["message_reference"]["guild_id"] = self.guild_id
            data["referenced_message"] = referenced.payload() if referenced else None
        return data


@dataclass(frozen=True, slots=True)
class RecordedEdit:
    """One message edit the bot made: when (on the fake's clock) and the new content."""

    at: float
    channel_id: str
    message_id: str
    content: str


__all__ = [
    "DISCORD_EPOCH_MS",
    "FakeAttachment",
    "FakeChannel",
    "FakeGuild",
    "FakeMessage",
    "FakeUser",
    "RecordedEdit",
    "SnowflakeFactory",
    "content_visible",
    "snowflake_time",
]
