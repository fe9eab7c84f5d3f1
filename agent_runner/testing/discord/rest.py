"""The fake Discord's REST API v10: routes, Discord's error bodies and rate-limit headers."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from agent_runner.testing.discord.files import UploadError
from agent_runner.testing.discord.payloads import FakeChannel, FakeMessage, RecordedEdit

if TYPE_CHECKING:
    from agent_runner.testing.discord.server import FakeDiscord

MAX_CONTENT = 2000
MAX_NONCE = 25
NONCE_WINDOW = 300.0
"""Seconds a message ``nonce`` is remembered with ``enforce_nonce`` ("a few minutes")."""
"""Discord's limit on a message's content, in characters."""
API_VERSION = 10
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(slots=True)
class RateLimitRule:
    """Answer ``remaining`` matching requests with 429, after letting ``skip`` through."""

    skip: int
    remaining: int
    retry_after: float
    is_global: bool
    scope: str


class RestApi:
    """The REST endpoints of a :class:`FakeDiscord` (its state lives there)."""

    def __init__(self, fake: FakeDiscord) -> None:
        self._fake = fake
        self.nonces: dict[tuple[str, str], tuple[FakeMessage, float]] = {}
        """Messages created with a nonce, by (channel, nonce), with when (on the clock)."""
        self.nonce_window = NONCE_WINDOW
        self.nonce_hits = 0
        """Creates answered with an existing message (a repeated nonce, ``enforce_nonce``)."""
        self.limits: list[RateLimitRule] = []

    def _take_rate_limit(self, kind: str) -> RateLimitRule | None:
        for limit in self.limits:
            if limit.remaining > 0 and limit.scope in (kind, "all"):
                if limit.skip > 0:
                    limit.skip -= 1
                    return None
                limit.remaining -= 1
                self._fake.rate_limited += 1
                return limit
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self._fake.requests.append((request.method, request.match_info["path"]))
        if request.match_info["version"] != str(API_VERSION):
            return _error(404, "404: Not Found", 0)
        path = request.match_info["path"].rstrip("/")
        if path.startswith("interactions/"):
            return await self._fake.interactions.callback(request, path.split("/"))
        if path != "gateway" and request.headers.get("Authorization") != f"Bot {self._fake.token}":
            return _error(401, "401: Unauthorized", 0)
        parts = path.split("/")
        kind = "other"
        if request.method == "POST" and len(parts) == 3 and parts[2] in ("messages", "typing"):
            kind = parts[2]
        elif request.method == "GET" and len(parts) == 3 and parts[2] == "messages":
            kind = "history"
        elif request.method == "PATCH" and len(parts) == 4 and parts[2] == "messages":
            kind = "edits"
        limit = self._take_rate_limit(kind)
        if limit is not None:
            return _rate_limited(limit)
        if len(parts) >= 2 and parts[0] == "channels" and parts[1] not in self._fake.channels:
            return _error(404, "Unknown Channel", 10003)
        response = await self._route(request, parts)
        self._fake._notify()
        return response

    async def _route(self, request: web.Request, parts: list[str]) -> web.Response:
        method = request.method
        if parts == ["gateway"] or parts == ["gateway", "bot"]:
            data: Any = {"url": self._fake.gateway_url}
            if parts[-1] == "bot":
                data |= {
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 999,
                        "reset_after": 86_400_000,
                        "max_concurrency": 1,
                    },
                }
            return _json(data)
        if parts == ["users", "@me"] and method == "GET":
            return _json(self._fake.bot.payload() | {"verified": True, "mfa_enabled": False})
        if parts == ["oauth2", "applications", "@me"] and method == "GET":
            return _json(self._application())
        if len(parts) >= 2 and parts[0] == "channels":
            channel = self._fake.channels[parts[1]]
            rest = parts[2:]
            if rest == [] and method == "GET":
                return _json(channel.payload())
            if rest == ["typing"] and method == "POST":
                self._fake.typing[channel.id] = self._fake.typing.get(channel.id, 0) + 1
                return web.Response(status=204, headers=_ok_limit_headers())
            if rest == ["messages"] and method == "GET":
                return _json(self._history_page(channel.id, request.query))
            if rest == ["messages"] and method == "POST":
                return await self._create_message(channel, request)
            if len(rest) == 2 and rest[0] == "messages" and method == "PATCH":
                return await self._edit_message(channel, rest[1], request)
            if len(rest) == 2 and rest[0] == "messages" and method == "GET":
                found = self._fake._by_id.get(rest[1])
                if found is None or found.channel_id != channel.id:
                    return _error(404, "Unknown Message", 10008)
                return _json(found.payload())
        return _error(404, "404: Not Found", 0)

    def _application(self) -> dict[str, Any]:
        return {
            "id": self._fake.application_id,
            "name": self._fake.bot.username,
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self._fake.user.payload(),
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
        }

    def _history_page(self, channel_id: str, query: Any) -> list[dict[str, Any]]:
        limit = max(1, min(100, int(query.get("limit", 50))))
        items = self._fake.messages.get(channel_id, [])
        if "after" in query:
            after = int(query["after"])
            chosen = [m for m in items if int(m.id) > after][:limit]
        elif "before" in query:
            before = int(query["before"])
            chosen = [m for m in items if int(m.id) < before][-limit:]
        else:
            chosen = items[-limit:]
        return [
            m.payload(referenced=self._fake._by_id.get(m.reply_to) if m.reply_to else None)
            for m in reversed(chosen)  # Discord returns newest first
        ]

    async def _edit_message(
        self, channel: FakeChannel, message_id: str, request: web.Request
    ) -> web.Response:
        found = self._fake._by_id.get(message_id)
        if found is None or found.channel_id != channel.id:
            return _error(404, "Unknown Message", 10008)
        if found.author.id != self._fake.bot.id:
            return _error(403, "Cannot edit a message authored by another user", 50005)
        body = await request.json()
        content = str(body.get("content", found.content) or "")
        if len(content) > MAX_CONTENT:
            return _error(400, "Invalid Form Body", 50035)
        components = body.get("components")
        if components is not None and not _valid_components(components):
            return _error(400, "Invalid Form Body", 50035)
        edited = dataclasses.replace(
            found,
            content=content,
            components=found.components if components is None else tuple(components),
        )
        history = self._fake.messages[found.channel_id]
        history[history.index(found)] = edited
        self._fake._by_id[found.id] = edited
        self._fake.edits.append(
            RecordedEdit(self._fake.clock(), found.channel_id, found.id, content)
        )
        referenced = self._fake._by_id.get(edited.reply_to) if edited.reply_to else None
        return _json(edited.payload(referenced=referenced))

    async def _create_message(self, channel: FakeChannel, request: web.Request) -> web.Response:
        if channel.read_only:
            return _error(403, "Missing Permissions", 50013)
        try:
            body, files = await self._fake.files.read_body(request)
        except UploadError as exc:
            return _error(exc.status, exc.message, exc.code)
        content = str(body.get("content") or "")
        if len(content) > MAX_CONTENT:
            return _error(
                400,
                "Invalid Form Body",
                50035,
                {
                    "content": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": "Must be 2000 or fewer in length.",
                            }
                        ]
                    }
                },
            )
        components = body.get("components") or []
        if not _valid_components(components):
            return _error(400, "Invalid Form Body", 50035)
        if not (content.strip() or files or body.get("embeds") or body.get("sticker_ids")):
            return _error(400, "Cannot send an empty message", 50006)
        reply_to = None
        reference = body.get("message_reference")
        if isinstance(reference, dict) and reference.get("message_id"):
            reply_to = str(reference["message_id"])
            if reply_to not in self._fake._by_id:
                if reference.get("fail_if_not_exists", True):
                    return _error(400, "Unknown message", 10008)
                reply_to = None  # sent as a plain message, as Discord does
        nonce = body.get("nonce")
        if nonce is not None and len(str(nonce)) > MAX_NONCE:
            return _error(400, "Invalid Form Body", 50035)
        repeated = self._repeated(channel.id, nonce) if body.get("enforce_nonce") else None
        if repeated is not None:  # Discord answers with the message that nonce created
            earlier = self._fake._by_id.get(repeated.reply_to) if repeated.reply_to else None
            return _json(repeated.payload(referenced=earlier))
        message = FakeMessage(
            id=self._fake._ids(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=self._fake.bot,
            content=content,
            reply_to=reply_to,
            components=tuple(components),
            attachments=tuple(files),
        )
        self._fake.sent_at.append(self._fake.clock())
        if nonce is not None:
            self.nonces[(channel.id, str(nonce))] = (message, self._fake.clock())
        await self._fake._store_and_dispatch(message)
        referenced = self._fake._by_id.get(reply_to) if reply_to else None
        return _json(message.payload(referenced=referenced))

    def _repeated(self, channel_id: str, nonce: object) -> FakeMessage | None:
        """The bot's message created with ``nonce`` within :attr:`nonce_window`, if any."""
        if nonce is None:
            return None
        found = self.nonces.get((channel_id, str(nonce)))
        if found is None or self._fake.clock() - found[1] > self.nonce_window:
            return None
        self.nonce_hits += 1
        return found[0]


def _valid_components(rows: Any) -> bool:
    """Action rows (at most 5) of at most 5 buttons, each with a label and a custom_id of
    at most 80 and 100 characters."""
    if not isinstance(rows, list) or len(rows) > 5:
        return False
    for row in rows:
        items = row.get("components") if isinstance(row, dict) else None
        if row.get("type") != 1 or not isinstance(items, list) or not 1 <= len(items) <= 5:
            return False
        for item in items:
            custom_id = str(item.get("custom_id") or "")
            label = str(item.get("label") or "")
            if item.get("type") != 2 or not 1 <= len(custom_id) <= 100 or len(label) > 80:
                return False
    return True


def _ok_limit_headers() -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "49",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
        "X-RateLimit-Bucket": "fake-bucket",
    }


def _json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={**JSON_HEADERS, **_ok_limit_headers(), **(headers or {})},
    )


def _error(status: int, message: str, code: int, errors: Any = None) -> web.Response:
    data: dict[str, Any] = {"message": message, "code": code}
    if errors is not None:
        data["errors"] = errors
    return web.Response(status=status, body=json.dumps(data).encode(), headers=JSON_HEADERS)


def _rate_limited(limit: RateLimitRule) -> web.Response:
    headers = {
        **JSON_HEADERS,
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + limit.retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{limit.retry_after:.3f}",
        "X-RateLimit-Bucket": "fake-bucket",
        "X-RateLimit-Scope": "user",
        "Retry-After": str(max(1, math.ceil(limit.retry_after))),
        "Via": "1.1 google",
    }
    if limit.is_global:
        headers["X-RateLimit-Global"] = "true"
    body = {
        "message": "You are being rate limited.",
        "retry_after": limit.retry_after,
        "global": limit.is_global,
        "code": 0,
    }
    return web.Response(status=429, body=json.dumps(body).encode(), headers=headers)


__all__ = ["API_VERSION", "MAX_CONTENT", "RateLimitRule", "RestApi"]
