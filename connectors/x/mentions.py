"""Turning X API v2 mention payloads into runner messages (pure functions)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from agent_runner.message import Message
from connectors.x.media import attachments

TWEET_FIELDS = (
    "attachments",
    "author_id",
    "conversation_id",
    "created_at",
    "entities",
    "in_reply_to_user_id",
    "lang",
    "referenced_tweets",
)
"""The ``tweet.fields`` the connector asks for."""
EXPANSIONS = ("attachments.media_keys", "author_id")
"""The ``expansions`` the connector asks for (authors arrive in ``includes.users``, media
in ``includes.media``)."""

_LEADING_MENTION = re.compile(r"\s*@(\w{1,15})\b")
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}


def unescape(text: str) -> str:
    """X escapes ``&``, ``<`` and ``>`` in tweet text; undo exactly that."""
    for escaped, plain in _ENTITIES.items():
        text = text.replace(escaped, plain)
    return text


def written_text(tweet: Mapping[str, Any]) -> str:
    """The tweet's text as its author wrote it: X's ``text`` has each link shortened to
    ``https://t.co/...`` and a link to its media appended; the ``entities.urls`` say which
    link stands for what (``expanded_url``, or a ``media_key``).

    Example:
        >>> written_text({"text": "see https://t.co/a https://t.co/b", "entities": {"urls": [
        ...     {"url": "https://t.co/a", "expanded_url": "https://e.com/x"},
        ...     {"url": "https://t.co/b", "media_key": "3_1"}]}})
        'see https://e.com/x'
    """
    text = str(tweet.get("text") or "")
    dropped = False
    for entity in (tweet.get("entities") or {}).get("urls") or ():
        link = entity.get("url") if isinstance(entity, Mapping) else None
        if not link:
            continue
        if entity.get("media_key"):
            text, dropped = text.replace(str(link), ""), True
        elif entity.get("expanded_url"):
            text = text.replace(str(link), str(entity["expanded_url"]), 1)
    return text.strip() if dropped else text


def strip_leading_mentions(text: str, username: str) -> str:
    """Drop the bot's own ``@username`` from the run of @mentions a tweet starts with.

    Other leading handles are kept (they are part of what was said to the bot).

    Example:
        >>> strip_leading_mentions("@bot @alice what now?", "bot")
        '@alice what now?'
    """
    kept: list[str] = []
    pos = 0
    while match := _LEADING_MENTION.match(text, pos):
        if match.group(1).lower() != username.lower():
            kept.append("@" + match.group(1))
        pos = match.end()
    rest = text[pos:].strip()
    return " ".join([*kept, rest]) if rest else " ".join(kept)


def parse_time(value: Any) -> datetime | None:
    """X's ``created_at`` (``2026-01-02T03:04:05.000Z``) as an aware datetime."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def replied_to(tweet: Mapping[str, Any]) -> str | None:
    """The id of the tweet ``tweet`` replies to, if any."""
    for ref in tweet.get("referenced_tweets") or ():
        if isinstance(ref, Mapping) and ref.get("type") == "replied_to":
            return str(ref.get("id"))
    return None


def tweet_message(
    tweet: Mapping[str, Any],
    *,
    source: str,
    username: str,
    users: Mapping[str, Mapping[str, Any]],
    bot_accounts: Collection[str] = (),
    depth: int = 0,
    media: Mapping[str, Mapping[str, Any]] | None = None,
) -> Message:
    """The :class:`Message` for one mention (raises InvalidMessageError if it has no text).

    Args:
        tweet: one item of the mentions response's ``data``.
        source: the connector's name.
        username: the bot's own handle (stripped from the leading mentions).
        users: ``includes.users`` by id.
        bot_accounts: ids or usernames (lowercase) of accounts known to be bots.
        depth: bot replies above this tweet in its thread (``Message.depth``).
        media: ``includes.media`` by ``media_key`` (see :mod:`connectors.x.media`).
    """
    tweet_id = str(tweet["id"])
    author_id = str(tweet.get("author_id") or "unknown")
    author = users.get(author_id, {})
    author_username = str(author.get("username") or "") or None
    raw = unescape(written_text(tweet))
    is_bot = author_id in bot_accounts or (
        author_username is not None and author_username.lower() in bot_accounts
    )
    metadata: dict[str, Any] = {
        "tweet_id": tweet_id,
        "text": raw,
        "author_username": author_username,
        "author_name": author.get("name"),
    }
    for key in ("in_reply_to_user_id", "lang"):
        if tweet.get(key):
            metadata[key] = tweet[key]
    found, details = attachments(tweet, media or {})
    if details:
        metadata["media"] = details
    data: dict[str, Any] = {
        "id": tweet_id,
        "conversation_id": str(tweet.get("conversation_id") or tweet_id),
        "source": source,
        "author": {"id": author_id, "name": author_username, "is_bot": is_bot},
        "text": strip_leading_mentions(raw, username),
        "reply_to": replied_to(tweet),
        "depth": depth,
        "metadata": metadata,
        "attachments": found,
    }
    created = parse_time(tweet.get("created_at"))
    if created is not None:
        data["created_at"] = created
    return Message.parse(data)


__all__ = [
    "EXPANSIONS",
    "TWEET_FIELDS",
    "parse_time",
    "replied_to",
    "strip_leading_mentions",
    "tweet_message",
    "unescape",
    "written_text",
]
