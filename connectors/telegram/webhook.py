"""The webhook server: Telegram POSTs each update here; the secret is checked on every one.

An update is answered 200 only once the runner journaled it (or knew it already), so a
failure answers 500 and Telegram delivers the update again; a repeated update is the same
runner message and is answered once.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from agent_runner.errors import AgentRunnerError
from agent_runner.http_server import ServerLimits, json_error, read_body, serve, too_slow

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1_048_576
_log = logging.getLogger("connectors.telegram")


class WebhookServer:
    """An aiohttp server for one webhook path.

    Args:
        host, port: where to listen (port 0 picks a free one; see :attr:`port`).
        path: the URL path Telegram posts to.
        secret: the expected ``X-Telegram-Bot-Api-Secret-Token``.
        handle: called with each update's JSON; raising makes the answer 500 (a retry).
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
        secret: str,
        handle: Callable[[dict[str, Any]], Awaitable[None]],
        read_timeout: float = 10.0,
        idle_timeout: float = 15.0,
        max_connections: int = 256,
    ) -> None:
        self._host, self._port, self._path = host, port, path or "/"
        self._secret = secret.encode()
        self._handle = handle
        self._limits = ServerLimits(
            idle_timeout=idle_timeout, body_timeout=read_timeout, max_connections=max_connections
        )
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_UPDATE_BYTES)
        app.router.add_post(self._path, self._receive)
        self._runner, self._port = await serve(
            app, host=self._host, port=self._port, limits=self._limits
        )

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            _log.warning("telegram: webhook request without the right secret token; refused")
            return json_error(401, "wrong secret token")
        try:
            body = await read_body(request, within=self._limits.body_timeout)
            if body is None:
                return too_slow(self._limits.body_timeout)
            update = json.loads(body)
        except web.HTTPRequestEntityTooLarge:
            return json_error(413, "update too large")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return json_error(400, "not JSON")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return json_error(400, "not an update")
        try:
            await self._handle(update)
        except AgentRunnerError as exc:
            _log.warning(
                "telegram: update %s not taken, Telegram will retry: %s", update["update_id"], exc
            )
            return json_error(500, "try again")
        return web.Response(status=200)


__all__ = ["MAX_UPDATE_BYTES", "SECRET_HEADER", "WebhookServer"]
