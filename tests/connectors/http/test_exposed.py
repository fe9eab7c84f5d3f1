"""The HTTP connector on a public address: slow and broken clients, with raw sockets."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from agent_runner.http_server import ServerLimits
from connectors.http import HTTPConnector
from tests.connectors._web_fixtures import Recorder, running

WAIT = 30.0


async def exchange(http: HTTPConnector, raw: bytes, *, reset: bool = False) -> bytes:
    """Send ``raw`` on a fresh connection; what comes back until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
    try:
        writer.write(raw)
        await writer.drain()
        if reset:
            writer.transport.abort()
            return b""
        return await asyncio.wait_for(reader.read(), WAIT)
    finally:
        writer.close()


def status_and_json(raw: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"application/json" in head, raw
    return int(head.split(b" ", 2)[1]), json.loads(body)


async def test_slow_and_malformed_clients_get_json_and_are_closed_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    agent = Recorder()
    http = HTTPConnector(
        port=0, limits=ServerLimits(idle_timeout=0.5, body_timeout=0.5), rate_limit_per_minute=0
    )
    async with running([http], [http], agent):
        head = b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        slow = exchange(http, head + b"Content-Length: 1000\r\n\r\n" + b'{"text":')
        stalled = asyncio.ensure_future(slow)
        fine = head + b'Content-Length: 15\r\nConnection: close\r\n\r\n{"text": "hi"} '
        status, body = status_and_json(await exchange(http, fine))
        assert status == 200 and body["replies"] == [{"text": "echo: hi"}]

        status, body = status_and_json(await stalled)
        assert status == 408 and "did not arrive within 0.5s" in str(body["error"])

        bad_chunk = head + b"Transfer-Encoding: chunked\r\n\r\n5\r\nabc"
        await exchange(http, bad_chunk, reset=True)
        await exchange(http, head + b"Content-Length: 500\r\n\r\n{", reset=True)
        status, body = status_and_json(await exchange(http, b"NOT HTTP\r\n\r\n"))
        assert status == 400 and body["error"]["code"] == "bad_request"  # type: ignore[index]

        status, body = status_and_json(await exchange(http, fine))
        assert status == 200
    assert [m.text for m in agent.seen] == ["hi", "hi"]
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not loud, [r.getMessage() for r in loud]
