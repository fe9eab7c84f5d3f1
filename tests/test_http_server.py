"""The shared server hardening (agent_runner.http_server), with real sockets on 127.0.0.1.

Slow and stalled clients are raw TCP connections that send part of a request and wait; each
test waits (generously) for the server to close them and checks another client is served
meanwhile. No timing is asserted: only what is answered and that the connection ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from agent_runner.errors import ConfigurationError
from agent_runner.http_server import ServerLimits, read_body, serve, too_slow

WAIT = 30.0
"""The longest a test waits for the server to act (far above the limits it sets)."""


class Server:
    def __init__(self, port: int) -> None:
        self.port = port

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def get(self, path: str = "/ok") -> tuple[int, dict[str, Any]]:
        reader, writer = await self.connect()
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            return parse(await asyncio.wait_for(reader.read(), WAIT))
        finally:
            writer.close()


def parse(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/json" in head.lower(), raw
    return status, json.loads(body)


async def closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), WAIT)


@pytest.fixture
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    limits = getattr(request, "param", None) or ServerLimits(
        idle_timeout=0.5, body_timeout=0.5, max_connections=3
    )

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def echo(request: web.Request) -> web.Response:
        body = await read_body(request, within=limits.body_timeout)
        if body is None:
            return too_slow(limits.body_timeout)
        return web.json_response({"bytes": len(body)})

    async def bug(request: web.Request) -> web.Response:
        raise RuntimeError("a bug in a handler")

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_post("/echo", echo)
    app.router.add_get("/bug", bug)
    runner, port = await serve(app, host="127.0.0.1", port=0, limits=limits)
    try:
        yield Server(port)
    finally:
        await runner.cleanup()


async def test_a_stalled_body_is_answered_408_and_closed_while_others_are_served(
    server: Server,
) -> None:
    reader, writer = await server.connect()
    writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n12345678")
    assert await server.get() == (200, {"ok": True})
    status, body = parse(await closed(reader))
    writer.close()
    assert status == 408
    assert body["error"]["code"] == "body_timeout"
    assert "did not arrive within 0.5s" in body["error"]["message"]
    assert await server.get() == (200, {"ok": True})


async def test_idle_and_trickling_connections_are_closed(server: Server) -> None:
    idle_reader, idle = await server.connect()
    slow_reader, slow = await server.connect()
    slow.write(b"GET /ok HTTP/1.1\r\nHost: x\r\n")  # the head never ends
    keep_reader, keep = await server.connect()  # a keep-alive client that goes quiet
    keep.write(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
    assert await closed(idle_reader) == b""
    assert await closed(slow_reader) == b""
    answered = await closed(keep_reader)
    assert answered.startswith(b"HTTP/1.1 200") and answered.endswith(b'{"ok": true}')
    for writer in (idle, slow, keep):
        writer.close()
    assert await server.get() == (200, {"ok": True})


async def test_connections_over_the_cap_get_503_and_the_rest_are_served(server: Server) -> None:
    held = [await server.connect() for _ in range(3)]
    for reader, writer in held:  # each proves it is established and served
        writer.write(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await reader.readuntil(b'{"ok": true}')).startswith(b"HTTP/1.1 200")
    status, body = await server.get()
    assert status == 503 and "too many connections" in body["error"]["message"]
    for _, writer in held:
        writer.close()
    for _ in range(int(WAIT * 10)):  # the server notices the closed ones
        status, body = await server.get()
        if status == 200:
            break
        await asyncio.sleep(0.1)
    assert (status, body) == (200, {"ok": True})


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /ok HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"GET /ok HTTP/1.1\r\n" + b"X-Long: " + b"a" * 20_000 + b"\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["request-line", "content-length", "header-too-long", "chunk-size"],
)
async def test_malformed_requests_get_json_400_and_one_quiet_log_line(
    server: Server, raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reader, writer = await server.connect()
    writer.write(raw)
    status, body = parse(await closed(reader))
    writer.close()
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("malformed request")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in caplog.records if r.exc_info]
    assert [r for r in caplog.records if "refused a request" in r.getMessage()]
    assert await server.get() == (200, {"ok": True})


async def test_a_client_resetting_mid_body_logs_no_error(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reader, writer = await server.connect()
    writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n1234")
    await writer.drain()
    writer.transport.abort()  # RST
    assert await server.get() == (200, {"ok": True})
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_handler_bug_is_a_json_500_logged_with_its_traceback(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    status, body = await server.get("/bug")
    assert status == 500 and body["error"]["type"] == "server_error"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None


def test_limits_are_validated() -> None:
    with pytest.raises(ConfigurationError, match="max_connections"):
        ServerLimits(max_connections=0)
    with pytest.raises(ConfigurationError, match="idle_timeout"):
        ServerLimits(idle_timeout=0)
    assert ServerLimits().describe() == "idle 15s, body 30s, 1024 connections"
