"""The lean front of the connector's hot route: ``POST /v1/messages`` without aiohttp's app layer.

Every connection of the connector's server starts here (:class:`Front`, given to
:func:`~agent_runner.http_server.serve`). A request the front serves has its head parsed by
``httptools`` (llhttp, Node.js's parser) and goes straight to the connector's handler: no
router, middleware, ``Request`` or ``Response`` object, which are nearly three quarters of
the CPU a bare aiohttp handler spends on a request (``bench/README.md``, "The lean front").

The front serves only the plain case: ``POST`` to its path over HTTP/1.1 with a
``Content-Length`` body within the size limit and a head under aiohttp's limits. Anything
else (another route or method, HTTP/1.0, a chunked body, ``Expect``, ``Upgrade``, a body over
the limit, a head the parser refuses) is handed with every byte received so far to aiohttp's
connection handler, which then serves the rest of the connection as it always did: every
answer aiohttp gives by itself stays its own.

What it keeps of :class:`~agent_runner.http_server.ServerLimits`: a connection that has not
sent a whole head within ``idle_timeout`` (after connecting and between requests) is closed;
a body that has not arrived within ``body_timeout`` is answered ``408`` and the connection
closed; its connections count towards ``max_connections``; on shutdown, requests in flight get
``shutdown_timeout`` to finish. One sweep per front checks the deadlines, up to a tick late (a
quarter of the shorter timeout, at most 1 s), never early. A connection serves one request at a
time, in order; it stops reading while one is handled and more than a body's worth waits, and
stops answering while the client does not read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

import httptools  # type: ignore[import-untyped,unused-ignore]
from multidict import CIMultiDict

from agent_runner.http_server import ServerLimits, error_body
from agent_runner.tracing import spans

logger = logging.getLogger("connectors.http")

Answer = tuple[int, Any, Mapping[str, str]]
"""Status, JSON body and extra headers of an answer."""
Handler = Callable[[CIMultiDict[str], "str | None", bytes], Awaitable[Answer]]
"""Answers one request from its headers, the peer address and the body."""

MAX_HEAD = 8190
"""Longest head served here (aiohttp's line limit); a longer one goes to aiohttp."""
MAX_HEADERS = 100
"""Most header fields served here (aiohttp refuses more than 128)."""
_REFUSED_HEADERS = frozenset({"transfer-encoding", "expect", "upgrade"})
"""A head with any of these goes to aiohttp."""
_PHRASES = {s.value: s.phrase.encode() for s in HTTPStatus}


class Front:
    """Takes every new connection first and serves ``POST path`` itself.

    Args:
        path: the route served here (exact, without a query string).
        handler: answers a request (:data:`Handler`); it raises nothing it means to answer.
        limits: the server's timeouts and connection cap.
        max_body: bytes; a larger announced body goes to aiohttp (which answers 413).
    """

    def __init__(self, *, path: str, handler: Handler, limits: ServerLimits, max_body: int) -> None:
        self.path = path.encode()
        self.handler = handler
        self.limits = limits
        self.max_body = max_body
        self.closing = False
        self._connections: set[_Connection] = set()
        self._tick = min(1.0, limits.idle_timeout / 4, limits.body_timeout / 4)
        self._sweep: asyncio.TimerHandle | None = None
        self._date = (0, b"")

    def __len__(self) -> int:
        return len(self._connections)

    def connection(self, fallback: Callable[[], asyncio.Protocol]) -> asyncio.Protocol:
        """The protocol of a new connection; ``fallback`` makes aiohttp's, for a handover."""
        return _Connection(self, fallback)

    async def close(self, grace: float) -> None:
        """Close idle connections now; give requests in flight ``grace`` seconds."""
        self.closing = True
        for connection in list(self._connections):
            if connection.task is None:
                connection.close()
        tasks = [c.task for c in self._connections if c.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
        for connection in list(self._connections):
            connection.close()
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None

    def date(self) -> bytes:
        """The ``Date`` header's value, formatted once a second."""
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, formatdate(now, usegmt=True).encode())
        return self._date[1]

    def add(self, connection: _Connection) -> None:
        self._connections.add(connection)
        if self._sweep is None:
            self._sweep = asyncio.get_running_loop().call_later(self._tick, self._check)

    def discard(self, connection: _Connection) -> None:
        self._connections.discard(connection)

    def _check(self) -> None:
        now = time.monotonic()
        for connection in [c for c in self._connections if c.deadline <= now]:
            connection.expire()
        self._sweep = None
        if self._connections:
            self._sweep = asyncio.get_running_loop().call_later(self._tick, self._check)


class _Connection(asyncio.Protocol):
    """One client connection until it closes or is handed to aiohttp."""

    def __init__(self, front: Front, fallback: Callable[[], asyncio.Protocol]) -> None:
        self._front = front
        self._fallback = fallback
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._remote: str | None = None
        self._buffer = bytearray()
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._fields: list[tuple[str, str]] = []
        self._head_done = False
        self._refused = False
        self._completed = 0
        self._waiting: tuple[CIMultiDict[str], int, int, bool] | None = None
        """A parsed head whose body is still coming: headers, body start, length, keep-alive."""
        self._reading = True
        self._writing = True
        self.task: asyncio.Task[None] | None = None
        """The request being handled, if any."""
        self.deadline = math.inf
        """Monotonic time the connection expires at (idle or body timeout)."""

    # -- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._remote = str(peer[0]) if isinstance(peer, tuple) and peer else None
        self.deadline = time.monotonic() + self._front.limits.idle_timeout
        self._front.add(self)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self.task is None:
            self._serve_next()
        if self._reading and len(self._buffer) > self._front.max_body + MAX_HEAD:
            self._pause_reading()  # a request is being handled or the client does not read

    def eof_received(self) -> bool:
        return False  # close the connection; an unfinished request goes with it

    def connection_lost(self, exc: Exception | None) -> None:
        self._front.discard(self)
        self._transport = None

    def pause_writing(self) -> None:
        self._writing = False

    def resume_writing(self) -> None:
        self._writing = True
        if self.task is None:
            self._resume_reading()
            self._serve_next()

    # -- requests -----------------------------------------------------------------------
    def _serve_next(self) -> None:
        """Start the next whole request in the buffer, or hand the connection over."""
        if self._transport is None or not self._writing:
            return
        if self._front.closing:
            self.close()
            return
        buffer = self._buffer
        if self._waiting is None:
            while buffer.startswith(b"\r\n"):
                del buffer[:2]
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD or b"\n\n" in buffer:
                    self._hand_over()
                return
            self._waiting = self._parse_head(end + 4)
            if self._waiting is None:
                self._hand_over()
                return
            self.deadline = time.monotonic() + self._front.limits.body_timeout
        headers, start, length, keep_alive = self._waiting
        if len(buffer) < start + length:
            return
        body = bytes(buffer[start : start + length])
        del buffer[: start + length]
        self._waiting = None
        if length:
            try:
                self._parser.feed_data(body)  # keeps the parser at the next request's start
            except httptools.HttpParserError:
                self.close()
                return
        if self._completed != 1:
            self.close()  # the parser framed the request otherwise: never guess
            return
        self.deadline = math.inf
        self.task = self._loop.create_task(self._answer(headers, body, keep_alive))

    def _parse_head(self, size: int) -> tuple[CIMultiDict[str], int, int, bool] | None:
        """The head's headers, size, body length and keep-alive, if this front serves it."""
        if size > MAX_HEAD:
            return None
        self._url, self._fields, self._head_done, self._refused = b"", [], False, False
        self._completed = 0
        try:
            self._parser.feed_data(bytes(self._buffer[:size]))
        except httptools.HttpParserError:
            return None
        parser = self._parser
        if (
            not self._head_done
            or parser.get_method() != b"POST"
            or self._url != self._front.path
            or parser.get_http_version() != "1.1"
            or len(self._fields) > MAX_HEADERS
            or self._refused
        ):
            return None
        headers = CIMultiDict(self._fields)
        length = headers.get("Content-Length")
        if length is None or not (length.isascii() and length.isdigit()):
            return None
        if int(length) > self._front.max_body or self._completed != (0 if int(length) else 1):
            return None  # over the limit, or the parser saw the head end elsewhere
        return headers, size, int(length), bool(parser.should_keep_alive())

    # httptools callbacks
    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1")
        self._fields.append((key, value.decode("latin-1")))
        if key.lower() in _REFUSED_HEADERS:
            self._refused = True

    def on_headers_complete(self) -> None:
        self._head_done = True

    def on_message_complete(self) -> None:
        self._completed += 1

    async def _answer(self, headers: CIMultiDict[str], body: bytes, keep_alive: bool) -> None:
        front = self._front
        try:
            with spans.incoming(headers):  # continue the caller's trace (when tracing is on)
                status, payload, extra = await front.handler(headers, self._remote, body)
        except Exception:
            logger.exception("unexpected error handling POST %s", front.path.decode())
            status, payload, extra = 500, error_body(500, "internal server error (logged)"), {}
        self.task = None
        self._write(status, payload, extra, close=not keep_alive)
        if self._transport is None:
            return
        self.deadline = time.monotonic() + front.limits.idle_timeout
        self._resume_reading()
        self._serve_next()

    def _write(self, status: int, payload: Any, extra: Mapping[str, str], *, close: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        content = json.dumps(payload).encode()
        lines = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in extra.items())
        if close:
            lines += b"Connection: close\r\n"
        transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\n"
            b"Content-Length: %d\r\nDate: %s\r\n%s\r\n%s"
            % (
                status,
                _PHRASES.get(status, b"Unknown"),
                len(content),
                self._front.date(),
                lines,
                content,
            )
        )
        if close:
            transport.close()

    # -- timeouts, handover, close ------------------------------------------------------
    def expire(self) -> None:
        """The deadline passed: a stalled body is answered 408; an idle connection closes."""
        if self._waiting is not None:
            timeout = self._front.limits.body_timeout
            logger.info("request body from %s too slow (over %gs); closing", self._remote, timeout)
            message = f"the request body did not arrive within {timeout:g}s"
            self._write(408, error_body(408, message), {}, close=True)
        self.close()

    def close(self) -> None:
        self.deadline = math.inf
        if self._transport is not None:
            self._transport.close()

    def _pause_reading(self) -> None:
        if self._transport is not None:
            self._reading = False
            self._transport.pause_reading()

    def _resume_reading(self) -> None:
        if not self._reading and self._transport is not None:
            self._reading = True
            self._transport.resume_reading()

    def _hand_over(self) -> None:
        """Give the connection, and what it sent of the current request, to aiohttp."""
        transport = self._transport
        if transport is None:
            return
        self._front.discard(self)
        self._transport = None
        self.deadline = math.inf
        protocol = self._fallback()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if not self._reading:
            transport.resume_reading()
        if self._buffer:
            protocol.data_received(bytes(self._buffer))
        self._buffer.clear()


__all__ = ["MAX_HEAD", "MAX_HEADERS", "Answer", "Front", "Handler"]
