"""Which Slack events the bot answers, and the runner message each becomes.

``app_mention`` in channels (the bot was @-mentioned), every ``message`` in direct messages
(``channel_type: im``). Plain channel messages (an app subscribed to ``message.channels``
gets them too) are not ours, and neither are edits, deletions and other subtypes. The bot's
own messages (its ``bot_id`` or user id) are dropped; other bots' are marked
(``author.is_bot``) so the runner drops them unless it allows bots.

Replies go in a thread: a channel mention is answered in its thread (starting one), so the
conversation is the thread (``channel:thread_ts``); a direct message is answered in the
chat unless it was written in a thread. A message's id is ``channel:ts``, the same for the
``message`` and ``app_mention`` events of one message, so it is answered once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.slack.media import attachments

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_SKIPPED_SUBTYPES = frozenset(
    {
        "message_changed", "message_deleted", "message_replied", "channel_join",
        "channel_leave", "channel_topic", "channel_purpose", "channel_name", "bot_add",
        "bot_remove", "pinned_item", "unpinned_item", "ekm_access_denied", "group_join",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Scope:
    """Where the bot answers."""

    channel_ids: frozenset[str] = frozenset()
    """Channels to answer mentions in (empty: all). DMs are not filtered by it."""
    direct_messages: bool = True


@dataclass(frozen=True, slots=True)
class BotIdentity:
    user_id: str
    bot_id: str
    team_id: str = ""


def _created(ts: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except ValueError:
        return datetime.now(UTC)


def _text(raw: str, bot: BotIdentity) -> str:
    """The text without the bot's mention, Slack's escapes undone."""
    text = _MENTION.sub(lambda m: "" if m.group(1) == bot.user_id else m.group(0), raw)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split(" ")).strip()


def event_fields(
    event: Mapping[str, Any], *, source: str, bot: BotIdentity, scope: Scope
) -> dict[str, Any] | None:
    """The runner message for an Events API event, or None when it is not for the bot."""
    kind = event.get("type")
    channel = str(event.get("channel") or "")
    ts = str(event.get("ts") or "")
    if not channel or not ts:
        return None
    if event.get("bot_id") == bot.bot_id or event.get("user") == bot.user_id:
        return None
    subtype = event.get("subtype")
    if subtype in _SKIPPED_SUBTYPES or subtype == "message_changed":
        return None
    is_dm = event.get("channel_type") == "im" or channel.startswith("D")
    if kind == "app_mention":
        if not is_dm and scope.channel_ids and channel not in scope.channel_ids:
            return None
    elif kind == "message":
        if not is_dm or not scope.direct_messages:
            return None
    else:
        return None
    text = _text(str(event.get("text") or ""), bot)
    files = attachments(event)
    if not text and not files:
        return None
    thread = event.get("thread_ts")
    reply_thread = str(thread) if thread else (None if is_dm else ts)
    conversation = f"{channel}:{reply_thread}" if reply_thread else channel
    is_bot = bool(event.get("bot_id")) or subtype == "bot_message"
    author = str(event.get("user") or event.get("bot_id") or "unknown")
    profile = event.get("user_profile") or {}
    name = profile.get("display_name") or profile.get("real_name") or event.get("username")
    return {
        "id": f"{channel}:{ts}",
        "conversation_id": conversation,
        "source": source,
        "author": {"id": author, "name": str(name)[:256] if name else None, "is_bot": is_bot},
        "text": text,
        "attachments": files,
        "reply_to": f"{channel}:{thread}" if thread and thread != ts else None,
        "metadata": {
            "channel_id": channel,
            "ts": ts,
            "thread_ts": reply_thread,
            "is_dm": is_dm,
            "team_id": str(event.get("team") or bot.team_id),
        },
        "created_at": _created(ts),
    }


def action_fields(
    payload: Mapping[str, Any], *, source: str, bot: BotIdentity, scope: Scope
) -> dict[str, Any] | None:
    """The runner message for a press of one of the bot's buttons (``block_actions``)."""
    actions = payload.get("actions") or []
    user = payload.get("user") or {}
    container = payload.get("container") or {}
    channel = str(container.get("channel_id") or (payload.get("channel") or {}).get("id") or "")
    if payload.get("type") != "block_actions" or not actions or not channel:
        return None
    action = actions[0]
    value = action.get("value")
    message_ts = str(container.get("message_ts") or "")
    if action.get("type") != "button" or not value or not user.get("id"):
        return None
    is_dm = channel.startswith("D")
    if not is_dm and scope.channel_ids and channel not in scope.channel_ids:
        return None
    thread = container.get("thread_ts") or (None if is_dm else message_ts)
    label = (action.get("text") or {}).get("text")
    return {
        "id": f"action:{channel}:{action.get('action_ts') or payload.get('trigger_id')}",
        "conversation_id": f"{channel}:{thread}" if thread else channel,
        "source": source,
        "author": {
            "id": str(user["id"]),
            "name": str(user.get("name") or user.get("username") or "")[:256] or None,
            "is_bot": False,
        },
        "text": str(value),
        "reply_to": f"{channel}:{message_ts}" if message_ts else None,
        "metadata": {
            "channel_id": channel,
            "ts": message_ts,
            "thread_ts": thread,
            "is_dm": is_dm,
            "team_id": str((payload.get("team") or {}).get("id") or bot.team_id),
            "button": {
                "value": str(value),
                "label": label,
                "action_id": action.get("action_id"),
                "message_ts": message_ts,
            },
        },
    }


__all__ = ["BotIdentity", "Scope", "action_fields", "event_fields"]
