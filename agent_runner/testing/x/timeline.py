"""The fake X's data: users, tweets, and how API v2 renders and pages them."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TWEET_FIELDS = frozenset(
    {
        "attachments",
        "author_id",
        "context_annotations",
        "conversation_id",
        "created_at",
        "edit_controls",
        "edit_history_tweet_ids",
        "entities",
        "geo",
        "id",
        "in_reply_to_user_id",
        "lang",
        "note_tweet",
        "possibly_sensitive",
        "public_metrics",
        "referenced_tweets",
        "reply_settings",
        "source",
        "text",
        "withheld",
    }
)
USER_FIELDS = frozenset(
    {
        "created_at",
        "description",
        "entities",
        "id",
        "location",
        "name",
        "pinned_tweet_id",
        "profile_image_url",
        "protected",
        "public_metrics",
        "url",
        "username",
        "verified",
        "verified_type",
        "withheld",
    }
)
EXPANSIONS = frozenset(
    {
        "attachments.media_keys",
        "attachments.poll_ids",
        "author_id",
        "edit_history_tweet_ids",
        "entities.mentions.username",
        "geo.place_id",
        "in_reply_to_user_id",
        "referenced_tweets.id",
        "referenced_tweets.id.author_id",
    }
)
MEDIA_FIELDS = frozenset(
    {
        "alt_text",
        "duration_ms",
        "height",
        "media_key",
        "non_public_metrics",
        "organic_metrics",
        "preview_image_url",
        "promoted_metrics",
        "public_metrics",
        "type",
        "url",
        "variants",
        "width",
    }
)
"""The ``media.fields`` X knows."""
_MENTION = re.compile(r"(?<![\w@])@(\w{1,15})")
_URL = re.compile(r"https?://[^\s<>\"]+")
_URL_TRAILING = ".,;:!?)]}'\""


@dataclass(frozen=True, slots=True)
class FakeUser:
    """An account of the fake X."""

    id: str
    username: str
    name: str
    created_at: datetime

    def render(self, fields: Iterable[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "username": self.username}
        for name in fields:
            if name == "created_at":
                out[name] = iso(self.created_at)
            elif name in ("protected", "verified"):
                out[name] = False
            elif name == "description":
                out[name] = ""
        return out


@dataclass(frozen=True, slots=True)
class FakeTweet:
    """A tweet of the fake X (a mention you added, or one a client posted)."""

    id: str
    text: str
    author_id: str
    conversation_id: str
    created_at: datetime
    in_reply_to_tweet_id: str | None = None
    in_reply_to_user_id: str | None = None
    mentions: tuple[tuple[int, int, str], ...] = field(default=())
    """``(start, end, username)`` of each @mention in ``text``."""
    media_keys: tuple[str, ...] = ()
    """The keys of its pictures, GIF or video (:class:`~agent_runner.testing.x.FakeMedia`)."""
    media_link: str | None = None
    """The ``https://t.co/...`` link X appends to the text of a tweet with media."""
    links: tuple[tuple[str, str], ...] = ()
    """Each URL in :attr:`text` and the ``https://t.co/...`` link X shows instead."""

    @property
    def shown_text(self) -> str:
        """The text as the API shows it: :attr:`text` (what was posted) with each URL
        shortened to its t.co link, then the media link."""
        text = self.text
        for url, short in self.links:
            text = text.replace(url, short, 1)
        if self.media_link is None:
            return text
        return f"{text} {self.media_link}" if text else self.media_link

    def render(self, fields: Iterable[str], users: Mapping[str, FakeUser]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "text": self.shown_text,
            "edit_history_tweet_ids": [self.id],
        }
        for name in fields:
            if name == "author_id":
                out[name] = self.author_id
            elif name == "conversation_id":
                out[name] = self.conversation_id
            elif name == "created_at":
                out[name] = iso(self.created_at)
            elif name == "in_reply_to_user_id" and self.in_reply_to_user_id:
                out[name] = self.in_reply_to_user_id
            elif name == "referenced_tweets" and self.in_reply_to_tweet_id:
                out[name] = [{"type": "replied_to", "id": self.in_reply_to_tweet_id}]
            elif name == "lang":
                out[name] = "en"
            elif name == "entities" and (self.mentions or self.media_link or self.links):
                out[name] = self._entities(users)
            elif name == "attachments" and self.media_keys:
                out[name] = {"media_keys": list(self.media_keys)}
        return out

    def _entities(self, users: Mapping[str, FakeUser]) -> dict[str, Any]:
        entities: dict[str, Any] = {}
        shown = self.shown_text
        if self.mentions:
            entities["mentions"] = [
                _mention_entity(start, end, username, users)
                for start, end, username in find_mentions(shown)
            ]
        urls: list[dict[str, Any]] = []
        searched = 0
        for url, short in self.links:
            start = shown.index(short, searched)
            searched = start + len(short)
            urls.append(
                {
                    "start": start,
                    "end": searched,
                    "url": short,
                    "expanded_url": url,
                    "display_url": url.split("://", 1)[1][:25],
                }
            )
        if urls:
            entities["urls"] = urls
        if self.media_link is not None:
            start = len(shown) - len(self.media_link)
            entities.setdefault("urls", []).extend(
                [
                    {
                        "start": start,
                        "end": start + len(self.media_link),
                        "url": self.media_link,
                        "expanded_url": f"https://x.com/i/web/status/{self.id}/photo/1",
                        "display_url": f"pic.x.com/{self.media_link.rsplit('/', 1)[-1]}",
                        "media_key": self.media_keys[0],
                    }
                ]
            )
        return entities


def _mention_entity(
    start: int, end: int, username: str, users: Mapping[str, FakeUser]
) -> dict[str, Any]:
    entity: dict[str, Any] = {"start": start, "end": end, "username": username}
    user = users.get(username.lower())
    if user is not None:
        entity["id"] = user.id
    return entity


def iso(moment: datetime) -> str:
    """X's timestamp format, ``2026-01-02T03:04:05.000Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def find_mentions(text: str) -> tuple[tuple[int, int, str], ...]:
    """``(start, end, username)`` of each @mention in ``text``."""
    return tuple((m.start(), m.end(), m.group(1)) for m in _MENTION.finditer(text))


def find_urls(text: str) -> tuple[str, ...]:
    """The URLs in ``text``, as X links them (without trailing punctuation)."""
    return tuple(m.group(0).rstrip(_URL_TRAILING) for m in _URL.finditer(text))


def short_link() -> str:
    """A new ``https://t.co/...`` link (23 characters, as X's)."""
    return f"https://t.co/{secrets.token_urlsafe(7)}"


def shortened(text: str, *, with_media: bool) -> dict[str, Any]:
    """The t.co links X gives a new tweet: ``links`` for the URLs of ``text``, and
    ``media_link`` when it has media (FakeTweet fields)."""
    links = tuple((url, short_link()) for url in find_urls(text))
    return {"links": links, "media_link": short_link() if with_media else None}


def mentions_user(tweet: FakeTweet, user: FakeUser) -> bool:
    """Whether ``tweet`` belongs on ``user``'s mentions timeline."""
    if any(name.lower() == user.username.lower() for _, _, name in tweet.mentions):
        return True
    return tweet.in_reply_to_user_id == user.id and tweet.author_id != user.id


def csv(value: str | None) -> list[str]:
    """A comma-separated query parameter as a list (X's list format)."""
    return [part for part in (value or "").split(",") if part]


class InvalidParameter(ValueError):
    """A query parameter X would refuse with 400."""

    def __init__(self, parameter: str, value: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.value = value


def check_fields(name: str, values: Sequence[str], allowed: frozenset[str]) -> None:
    for value in values:
        if value not in allowed:
            raise InvalidParameter(
                name,
                value,
                f"The `{name}` query parameter value [{value}] is not one of "
                f"[{','.join(sorted(allowed))}]",
            )


@dataclass(slots=True)
class Pager:
    """Opaque ``next_token`` values, as X hands them out, mapped to where the page ends."""

    tokens: dict[str, int] = field(default_factory=dict)

    def issue(self, older_than: int) -> str:
        token = secrets.token_hex(12)
        self.tokens[token] = older_than
        return token

    def resolve(self, token: str) -> int:
        try:
            return self.tokens[token]
        except KeyError:
            raise InvalidParameter(
                "pagination_token",
                token,
                f"The `pagination_token` query parameter value [{token}] is not valid",
            ) from None


def page(
    timeline: Sequence[FakeTweet],
    *,
    since_id: int | None,
    until_id: int | None,
    max_results: int,
    older_than: int | None,
    pager: Pager,
) -> tuple[list[FakeTweet], dict[str, Any]]:
    """One page of ``timeline`` (newest first) and its ``meta``, as X pages a timeline."""
    selected = [
        t
        for t in sorted(timeline, key=lambda t: int(t.id), reverse=True)
        if (since_id is None or int(t.id) > since_id)
        and (until_id is None or int(t.id) < until_id)
        and (older_than is None or int(t.id) < older_than)
    ]
    chunk = selected[:max_results]
    meta: dict[str, Any] = {"result_count": len(chunk)}
    if chunk:
        meta["newest_id"] = chunk[0].id
        meta["oldest_id"] = chunk[-1].id
    if len(selected) > max_results:
        meta["next_token"] = pager.issue(int(chunk[-1].id))
    return chunk, meta


def int_param(query: Mapping[str, str], name: str, default: int | None) -> Any:
    """An integer query parameter (``default`` when absent); InvalidParameter if not one."""
    value = query.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidParameter(
            name, value, f"The `{name}` query parameter value [{value}] is not a number"
        ) from None


__all__ = [
    "EXPANSIONS",
    "FakeTweet",
    "FakeUser",
    "InvalidParameter",
    "MEDIA_FIELDS",
    "Pager",
    "TWEET_FIELDS",
    "USER_FIELDS",
    "check_fields",
    "csv",
    "find_mentions",
    "find_urls",
    "int_param",
    "iso",
    "mentions_user",
    "page",
    "short_link",
    "shortened",
]
