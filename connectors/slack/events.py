"""The Events API server: Slack POSTs events (and button presses) here, signed.

Every request is verified before it is read further: ``X-Slack-Signature`` must be
``v0=`` + HMAC-SHA256 of ``v0:{X-Slack-Request-Timestamp}:{body}`` with the signing secret,
and the timestamp within five minutes (a replayed request is refused). The
``url_verification`` challenge is answered. An event is answered 200 once the runner
journaled it (or knew it already); a failure answers 500 so Slack retries. Slack's retries
(``X-Slack-Retry-Num``) of an event already taken are answered 200 at once, recognised by
``event_id``. Button presses arrive form-encoded (``payload=``) on the same URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from agent_runner.errors import AgentRunnerError
from agent_runner.http_server import ServerLimits, json_error, read_body, serve, too_slow

MAX_EVENT_BYTES = 1_048_576
MAX_SKEW = 300.0
"""Seconds a request's timestamp may be off (Slack's replay window)."""
_log = logging.getLogger("connectors.slack")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature.

    >>> signature("s", "1", b"{}")[:10]
    'v0=65072e0'
    """
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(secret: str, headers: Any, body: bytes, *, now: float | None = None) -> str | None:
    """Why a request is not from Slack, or None when it is."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    given = headers.get("X-Slack-Signature", "")
    try:
        age = abs((time.time() if now is None else now) - float(timestamp))
    except ValueError:
        return "missing or malformed X-Slack-Request-Timestamp"
    if age > MAX_SKEW:
        return "stale X-Slack-Request-Timestamp"
    if not hmac.compare_digest(given.encode(), signature(secret, timestamp, body).encode()):
        return "wrong X-Slack-Signature"
    return None


class EventsServer:
    """An aiohttp server for the Events API request URL.

    Args:
        host, port: where to listen (port 0 picks a free one; see :attr:`port`).
        path: the request URL's path.
        signing_secret: the app's signing secret.
        on_event: called with each ``event_callback`` body; raising answers 500 (a retry).
        on_action: called with each interactivity payload (button presses).
        read_timeout: seconds to read one request body (then 408, connection closed).
        idle_timeout: seconds a connection may go without sending a complete request
            head (idle keep-alive connections close then).
        max_connections: connections served at once (more are answered 503).
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        path: str,
        signing_secret: str,
        on_event: Callable[[dict[str, Any]], Awaitable[None]],
        on_action: Callable[[dict[str, Any]], Awaitable[None]],
        read_timeout: float = 10.0,
        idle_timeout: float = 15.0,
        max_connections: int = 256,
    ) -> None:
        self._host, self._port, self._path = host, port, path or "/"
        self._secret = signing_secret
        self._on_event = on_event
        self._on_action = on_action
        self._limits = ServerLimits(
            idle_timeout=idle_timeout, body_timeout=read_timeout, max_connections=max_connections
        )
        self._runner: web.AppRunner | None = None
        self.retries_seen = 0
        """Requests that were Slack's retries (``X-Slack-Retry-Num``)."""

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_EVENT_BYTES)
        app.router.add_post(self._path, self._receive)
        self._runner, self._port = await serve(
            app, host=self._host, port=self._port, limits=self._limits
        )

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        try:
            body = await read_body(request, within=self._limits.body_timeout)
        except web.HTTPRequestEntityTooLarge:
            return json_error(413, "request too large")
        if body is None:
            return too_slow(self._limits.body_timeout)
        reason = verify(self._secret, request.headers, body)
        if reason is not None:
            _log.warning("slack: events request refused: %s", reason)
            return json_error(401, reason)
        if request.headers.get("X-Slack-Retry-Num"):
            self.retries_seen += 1
        try:
            if request.content_type == "application/x-www-form-urlencoded":
                form = dict(await request.post())
                data = json.loads(str(form.get("payload") or ""))
            else:
                data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return json_error(400, "not JSON")
        if not isinstance(data, dict):
            return json_error(400, "not an object")
        if data.get("type") == "url_verification":
            return web.json_response({"challenge": str(data.get("challenge", ""))})
        try:
            if data.get("type") == "event_callback":
                await self._on_event(data)
            elif data.get("type") == "block_actions":
                await self._on_action(data)
        except AgentRunnerError as exc:
            _log.warning("slack: event not taken, Slack will retry: %s", exc)
            return json_error(500, "try again")
        return web.Response(status=200)


__all__ = ["MAX_EVENT_BYTES", "MAX_SKEW", "EventsServer", "signature", "verify"]
