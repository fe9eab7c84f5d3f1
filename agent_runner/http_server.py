"""Every HTTP server the project runs, hardened the same way: :func:`serve`.

The HTTP connector, Telegram's webhook, Slack's Events API and the operator endpoint all
start their aiohttp application with :func:`serve`, which adds what a server on a public
address needs (:class:`ServerLimits`):

- **Idle and header timeout** (``idle_timeout``): a connection that has not sent a complete
  request head within this time is closed, right after connecting and between keep-alive
  requests. That covers idle keep-alive connections and clients that trickle their headers
  (aiohttp closes on its keep-alive timer whenever no whole request head has arrived).
- **Body timeout** (``body_timeout``): :func:`read_body` gives up on a body that does not
  arrive in time; the handler answers ``408`` and the connection is closed after it.
- **A cap on concurrent connections** (``max_connections``): beyond it a new connection is
  answered ``503`` at once and closed; established ones keep being served.
- **A front for hot routes** (``front``, a :class:`ConnectionFront`): it takes each new
  connection first, serves the requests it knows itself and hands the connection, with what
  it has read, to aiohttp's handler otherwise; its connections count towards the cap and it
  closes them on shutdown (the HTTP connector's ``POST /v1/messages``,
  ``connectors/http/front.py``).
- **Quiet, JSON errors.** A request aiohttp's parser rejects (malformed framing, a header
  line too long) is answered with a JSON error body (:func:`error_body`) and logged as one
  INFO line, not a traceback at ERROR; a client that hangs up is not an error at all. Only
  a bug in a handler is logged with its traceback.

Example:
    >>> from aiohttp import web
    >>> from agent_runner.http_server import ServerLimits, serve
    >>> # runner, port = await serve(app, host="127.0.0.1", port=0, limits=ServerLimits())
    >>> # ... await runner.cleanup()
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_request import BaseRequest

from agent_runner.errors import ConfigurationError
from agent_runner.tracing.http import trace_requests

logger = logging.getLogger("agent_runner.http_server")

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "server_error",
    503: "unavailable_error",
    504: "timeout_error",
}
"""The ``error.type`` of each status (OpenAI's vocabulary, so OpenAI clients show it)."""

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "body_timeout",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_message",
    429: "rate_limited",
    500: "internal_error",
    503: "not_ready",
    504: "reply_timeout",
}
"""The default ``error.code`` of each status."""


def error_body(
    status: int, message: str, *, code: str | None = None, details: Sequence[Any] = ()
) -> dict[str, Any]:
    """The JSON body of an error answer, in OpenAI's error shape::

    {"error": {"code": "invalid_json", "type": "invalid_request_error", "message": "..."}}
    """
    error: dict[str, Any] = {
        "code": code or ERROR_CODES.get(status, "error"),
        "type": ERROR_TYPES.get(status, "invalid_request_error"),
        "message": message,
    }
    if details:
        error["details"] = json.loads(json.dumps(details, default=str))
    return {"error": error}


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLimits:
    """Timeouts and caps of one server (see the module docstring).

    Args:
        idle_timeout: seconds a connection may go without sending a complete request head
            (after connecting, and between keep-alive requests).
        body_timeout: seconds to receive a whole request body (:func:`read_body`).
        max_connections: connections served at once; more are answered 503 and closed.
        shutdown_timeout: seconds in-flight requests get to finish when the server stops.
    """

    idle_timeout: float = 15.0
    body_timeout: float = 30.0
    max_connections: int = 1024
    shutdown_timeout: float = 5.0

    def __post_init__(self) -> None:
        if min(self.idle_timeout, self.body_timeout) <= 0 or self.max_connections < 1:
            raise ConfigurationError(
                "idle_timeout and body_timeout must be > 0 and max_connections >= 1"
            )

    def describe(self) -> str:
        """``idle 15s, body 30s, 1024 connections`` for ``agent-runner check``."""
        return (
            f"idle {self.idle_timeout:g}s, body {self.body_timeout:g}s, "
            f"{self.max_connections} connections"
        )


class ConnectionFront(Protocol):
    """Takes each new connection before aiohttp's handler (see :func:`serve`)."""

    def __len__(self) -> int:
        """Connections it serves now (counted towards ``max_connections``)."""
        ...

    def connection(self, fallback: Callable[[], asyncio.Protocol]) -> asyncio.Protocol:
        """The protocol of a new connection; ``fallback()`` makes aiohttp's handler, to
        hand the connection to (``transport.set_protocol``) when it does not serve it."""
        ...

    async def close(self, grace: float) -> None:
        """Stop serving: requests in flight get ``grace`` seconds, then every connection
        it still has is closed."""
        ...


async def serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    limits: ServerLimits | None = None,
    front: ConnectionFront | None = None,
) -> tuple[web.AppRunner, int]:
    """Start ``app`` on ``host:port`` (0: a free port) under ``limits``.

    With ``front``, each connection goes to it first (see the module docstring).

    Returns:
        The runner (``await runner.cleanup()`` stops the server) and the bound port.

    Raises:
        OSError: the address cannot be bound (in use, not an interface here ...).
    """
    limits = limits or ServerLimits()
    trace_requests(app)  # a request's traceparent continues its trace (when tracing is on)
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=limits.shutdown_timeout
    )
    await runner.setup()
    site = _Site(runner, host, port, limits, front)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, int(runner.addresses[0][1])


async def bind_problem(host: str, port: int) -> str | None:
    """Why :func:`serve` could not listen on ``host:port`` (None: it could), for
    ``agent-runner check``: not an address of this machine, a port in use ..."""
    try:
        probe = await asyncio.to_thread(socket.create_server, (host, port))
    except OSError as exc:
        return f"cannot listen there ({exc.strerror or exc})"
    probe.close()
    return None


async def read_body(request: web.BaseRequest, *, within: float) -> bytes | None:
    """The request body, or None when it did not arrive within ``within`` seconds.

    On None, answer ``408`` with :func:`too_slow`: the connection is closed after it.
    """
    if request.content.is_eof():  # the whole body is in already: no timer to set
        return await request.read()
    try:
        async with asyncio.timeout(within):
            return await request.read()
    except TimeoutError:
        logger.info("request body from %s too slow (over %gs); closing", request.remote, within)
        return None


def too_slow(timeout: float) -> web.Response:
    """The ``408`` answer to a body slower than ``timeout``; closes the connection."""
    return closing(408, f"the request body did not arrive within {timeout:g}s")


def json_error(status: int, message: str, *, code: str | None = None) -> web.Response:
    """A JSON error answer (:func:`error_body`)."""
    return web.json_response(error_body(status, message, code=code), status=status)


def closing(status: int, message: str, *, code: str | None = None) -> web.Response:
    """A JSON error answer after which the connection is closed."""
    response = json_error(status, message, code=code)
    response.force_close()
    return response


# -- internals ------------------------------------------------------------------------
_CLIENT_FAULTS = (HttpProcessingError, TimeoutError, ConnectionError)
"""Failures of the client or the network, answered and logged in one line."""
_LINGER = 1.0
"""Seconds an unread request body is drained after the answer before the connection closes."""


class _Handler(web.RequestHandler):
    """aiohttp's connection handler with JSON, one-line answers to what it refuses itself."""

    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500 and exc is not None and not isinstance(exc, _CLIENT_FAULTS):
            logger.error(
                "error handling %s %s from %s",
                request.method,
                request.path,
                request.remote,
                exc_info=exc,
            )
            reason = "internal server error (logged)"
        else:
            reason = _reason(status, exc, message)
            logger.info("refused a request from %s: %d %s", request.remote, status, reason)
        if request.writer.output_size > 0:  # the answer had started: nothing more to say
            raise ConnectionError("the response was already started")
        return closing(status, reason)


def _reason(status: int, exc: BaseException | None, message: str | None) -> str:
    if isinstance(exc, HttpProcessingError) and exc.message:
        text = exc.message
    else:
        text = message or ""
    text = " ".join(str(text).split())[:200]
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
    return f"malformed request: {text}" if status == 400 and text else text or phrase


class _Refuse(asyncio.Protocol):
    """Answers a connection over the cap with 503 and closes it."""

    BODY = json.dumps(error_body(503, "too many connections; retry later")).encode()
    ANSWER = (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        b"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
    )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(self.ANSWER)
        transport.close()


class _Site(web.BaseSite):
    """A TCP site whose connections get :class:`_Handler` under the limits."""

    __slots__ = ("_front", "_host", "_limits", "_port")

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        limits: ServerLimits,
        front: ConnectionFront | None,
    ) -> None:
        super().__init__(runner)
        self._host, self._port, self._limits, self._front = host, port, limits, front

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert isinstance(server, web.Server)
        limits, front = self._limits, self._front
        refused = 0

        def handler() -> asyncio.Protocol:
            return _Handler(
                server,
                loop=loop,
                keepalive_timeout=limits.idle_timeout,
                access_log=None,  # type: ignore[arg-type]  # None turns it off
                lingering_time=_LINGER,
            )

        def protocol() -> asyncio.Protocol:
            nonlocal refused
            open_now = len(server.connections) + (len(front) if front is not None else 0)
            if open_now >= limits.max_connections:
                refused += 1
                if refused == 1 or refused % 1000 == 0:
                    logger.warning(
                        "connection refused: %d connections open (the cap); %d refused so far",
                        limits.max_connections,
                        refused,
                    )
                return _Refuse()
            return front.connection(handler) if front is not None else handler()

        self._server = await loop.create_server(
            protocol, self._host, self._port, reuse_address=True, backlog=self._backlog
        )

    async def stop(self) -> None:
        await super().stop()
        if self._front is not None:
            await self._front.close(self._limits.shutdown_timeout)


__all__ = [
    "ERROR_CODES",
    "ERROR_TYPES",
    "ConnectionFront",
    "ServerLimits",
    "bind_problem",
    "closing",
    "error_body",
    "json_error",
    "read_body",
    "serve",
    "too_slow",
]
