"""The fake Slack's Web API: the methods a bot uses, Slack's errors and 429s."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from agent_runner.testing.slack.objects import FakeSlackMessage, RecordedUpdate

if TYPE_CHECKING:
    from agent_runner.testing.slack.server import FakeSlack

MAX_TEXT = 40_000
"""Slack's limit on a message's ``text``."""
MAX_SECTION_TEXT = 3000
"""Slack's limit on a section block's text."""


class SlackError(Exception):
    """An ``{"ok": false, "error": ...}`` answer."""

    def __init__(self, error: str, *, status: int = 200) -> None:
        super().__init__(error)
        self.error, self.status = error, status


@dataclass(slots=True)
class RateLimitRule:
    method: str | None
    remaining: int
    retry_after: float


class WebApi:
    """The Web API methods of a :class:`FakeSlack` (its state lives there)."""

    def __init__(self, fake: FakeSlack) -> None:
        self._fake = fake
        self.limits: list[RateLimitRule] = []
        self._methods: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "apps.connections.open": self._connections_open,
            **fake.files.methods(),
        }

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        fake = self._fake
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            params.update(body if isinstance(body, dict) else {})
        elif request.can_read_body:
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        token = token or str(params.pop("token", ""))
        headers: dict[str, str] = {}
        try:
            call = self._methods.get(method)
            if call is None:
                raise SlackError("unknown_method", status=404)
            wanted = fake.app_token if method == "apps.connections.open" else fake.bot_token
            if token != wanted:
                raise SlackError("invalid_auth")
            for rule in self.limits:
                if rule.remaining > 0 and rule.method in (None, method):
                    rule.remaining -= 1
                    fake.rate_limited += 1
                    headers["Retry-After"] = f"{rule.retry_after:g}"
                    raise SlackError("ratelimited", status=429)
            result = await call(params)
        except SlackError as exc:
            fake.requests.append((method, exc.error))
            fake.notify()
            return web.json_response(
                {"ok": False, "error": exc.error}, status=exc.status, headers=headers
            )
        fake.requests.append((method, "ok"))
        fake.notify()
        return web.json_response({"ok": True, **result})

    async def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        fake = self._fake
        return {
            "url": "https://fake.slack.com/",
            "team": "Fake Team",
            "user": fake.bot.name,
            "team_id": fake.team_id,
            "user_id": fake.bot.id,
            "bot_id": fake.bot.bot_id,
            "is_enterprise_install": False,
        }

    async def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self._fake.socket_url}

    def _content(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        text = str(params.get("text") or "")
        blocks = params.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not text.strip() and not blocks:
            raise SlackError("no_text")
        if len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        for block in blocks:
            if block.get("type") == "section":
                if len(str((block.get("text") or {}).get("text", ""))) > MAX_SECTION_TEXT:
                    raise SlackError("invalid_blocks")
            elif block.get("type") == "actions":
                for element in block.get("elements", []):
                    label = str((element.get("text") or {}).get("text", ""))
                    if not label or len(label) > 75 or len(str(element.get("value", ""))) > 2000:
                        raise SlackError("invalid_blocks")
            else:
                raise SlackError("invalid_blocks")
        return text, blocks

    def _metadata(self, params: dict[str, Any]) -> dict[str, Any] | None:
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata is None:
            return None
        if (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            raise SlackError("invalid_metadata_format")
        return metadata

    async def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        fake = self._fake
        channel = str(params.get("channel") or "")
        if channel not in fake.channels:
            raise SlackError("channel_not_found")
        text, blocks = self._content(params)
        thread = params.get("thread_ts")
        if thread and fake.find(channel, str(thread)) is None:
            raise SlackError("thread_not_found")
        message = FakeSlackMessage(
            channel=channel,
            ts=fake.next_ts(),
            user=fake.bot,
            text=text,
            thread_ts=str(thread) if thread else None,
            blocks=blocks,
            metadata=self._metadata(params),
        )
        fake.sent_at.append(fake.clock())
        await fake.add_message(message)
        return {"channel": channel, "ts": message.ts, "message": message.payload()}

    async def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        fake = self._fake
        channel = str(params.get("channel") or "")
        message = fake.find(channel, str(params.get("ts") or ""))
        if message is None:
            raise SlackError("message_not_found")
        if message.user.id != fake.bot.id:
            raise SlackError("cant_update_message")
        text, blocks = self._content(params)
        metadata = self._metadata(params)
        update = RecordedUpdate(fake.clock(), channel, message.ts, text)
        message.text, message.blocks = text, blocks
        if metadata is not None:
            message.metadata = metadata
        message.updates.append(update)
        fake.updates.append(update)
        return {"channel": channel, "ts": message.ts, "text": text}


__all__ = ["MAX_SECTION_TEXT", "MAX_TEXT", "RateLimitRule", "SlackError", "WebApi"]
