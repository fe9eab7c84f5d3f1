"""From a ``discord.Message`` to the runner's message: scope filters and field mapping."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from agent_runner.message import MAX_ATTACHMENTS
from connectors.discord.sdk import discord

_HANDLED_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


@dataclass(frozen=True, slots=True)
class Scope:
    """Which messages the connector listens to.

    Args:
        channel_ids: guild channels to listen in (a thread counts as its parent channel);
            empty means every channel.
        guild_ids: guilds to listen in; empty means every guild.
        mentions_only: in guilds, only messages that mention the bot or reply to it.
        direct_messages: listen to direct messages (never filtered by mention).
    """

    channel_ids: frozenset[int] = frozenset()
    guild_ids: frozenset[int] = frozenset()
    mentions_only: bool = True
    direct_messages: bool = True


def guild_id_of(message: discord.Message) -> int | None:
    """The message's guild id, also when the guild is not cached (None in DMs)."""
    if message.guild is not None:
        return message.guild.id
    guild_id = getattr(message.channel, "guild_id", None)
    return guild_id if isinstance(guild_id, int) else None


def parent_id_of(message: discord.Message) -> int | None:
    """The parent channel of a thread, else None."""
    channel = message.channel
    if isinstance(channel, discord.Thread):
        return channel.parent_id
    return None


def in_scope(message: discord.Message, scope: Scope) -> bool:
    """Is the message in a channel/guild/DM the connector listens to (mentions aside)?"""
    guild_id = guild_id_of(message)
    if guild_id is None:
        return scope.direct_messages
    if scope.guild_ids and guild_id not in scope.guild_ids:
        return False
    if scope.channel_ids:
        ids = {message.channel.id, parent_id_of(message)}
        return bool(ids & scope.channel_ids)
    return True


def bot_role_ids(message: discord.Message, bot_id: int) -> set[int]:
    """The bot's managed role(s) mentioned in the message (users often pick the role)."""
    return {
        role.id
        for role in message.role_mentions
        if role.tags is not None and role.tags.bot_id == bot_id
    }


def addressed_to_bot(message: discord.Message, bot_id: int) -> bool:
    """Does the message mention the bot (or its role), or reply to one of its messages?"""
    if any(user.id == bot_id for user in message.mentions) or bot_id in message.raw_mentions:
        return True
    if bot_role_ids(message, bot_id):
        return True
    reference = message.reference
    resolved = reference.resolved if reference is not None else None
    return isinstance(resolved, discord.Message) and resolved.author.id == bot_id


def wanted(message: discord.Message, scope: Scope, bot_id: int) -> bool:
    """Should this message reach the runner? (Own messages are never wanted.)"""
    if message.author.id == bot_id or message.type not in _HANDLED_TYPES:
        return False
    if not in_scope(message, scope):
        return False
    if scope.mentions_only and guild_id_of(message) is not None:
        return addressed_to_bot(message, bot_id)
    return True


def strip_mention(content: str, bot_id: int, role_ids: Collection[int] = ()) -> str:
    """Remove the bot's mentions (``<@id>``, ``<@!id>``, ``<@&role>``) and surrounding space."""
    ids = "|".join([rf"@!?{bot_id}", *(rf"@&{role}" for role in role_ids)])
    return re.sub(rf"<(?:{ids})>", "", content).strip()


def to_fields(
    message: discord.Message, *, source: str, bot_id: int, depth: int = 0
) -> dict[str, Any] | None:
    """The runner's message fields, or None when there is nothing to answer (no text).

    ``depth`` is how many bot replies deep the message's reply chain is (loop guard).
    """
    text = strip_mention(message.content, bot_id, bot_role_ids(message, bot_id))
    attachments = [
        {
            "url": a.url,
            "id": str(a.id),
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.size,
        }
        for a in message.attachments[:MAX_ATTACHMENTS]
    ]
    if not text and not attachments:
        return None
    guild_id = guild_id_of(message)
    parent_id = parent_id_of(message)
    reference = message.reference
    author = message.author
    metadata: dict[str, Any] = {
        "guild_id": str(guild_id) if guild_id is not None else None,
        "channel_id": str(message.channel.id),
        "is_dm": guild_id is None,
    }
    if parent_id is not None:
        metadata["parent_channel_id"] = str(parent_id)
    return {
        "id": str(message.id),
        "conversation_id": str(message.channel.id),
        "source": source,
        "author": {
            "id": str(author.id),
            "name": author.display_name[:256],
            "is_bot": bool(author.bot or message.webhook_id is not None),
        },
        "text": text,
        "attachments": attachments,
        "reply_to": str(reference.message_id) if reference and reference.message_id else None,
        "depth": depth,
        "metadata": metadata,
        "created_at": message.created_at,
    }


__all__ = [
    "Scope",
    "addressed_to_bot",
    "bot_role_ids",
    "guild_id_of",
    "in_scope",
    "parent_id_of",
    "strip_mention",
    "to_fields",
    "wanted",
]
