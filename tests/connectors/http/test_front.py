"""The connector's lean front (connectors.http.front), with raw sockets on a real port.

The front serves ``POST /v1/messages`` itself and hands anything else to aiohttp with the
bytes it has read; these tests check both halves answer as one server: keep-alive and
pipelined requests, a handover in the middle of a connection, the limits (idle and body
timeouts, the connection cap, the body size) and the refusals of the hot route.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest

from agent_runner import AgentContext, Message
from agent_runner.http_server import ServerLimits
from connectors.http import HTTPConnector
from tests.connectors._web_fixtures import Recorder, running

WAIT = 30.0
"""The longest a test waits for the server (far above the limits it sets)."""


def post(text: str, *, headers: str = "", close: bool = False) -> bytes:
    body = json.dumps({"text": text}).encode()
    extra = headers + ("Connection: close\r\n" if close else "")
    return (
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n%s\r\n%s" % (len(body), extra.encode(), body)
    )


async def answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], object]:
    """One response read off the connection: status, headers (lower-case), JSON body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    lines = head.decode("latin-1").split("\r\n")
    fields = (line.split(": ", 1) for line in lines[1:] if line)
    headers = {name.lower(): value for name, value in fields}
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), WAIT)
    assert headers["content-type"].startswith("application/json"), head
    return int(lines[0].split(" ", 2)[1]), headers, json.loads(body)


@pytest.fixture
async def http() -> AsyncIterator[HTTPConnector]:
    limits = ServerLimits(idle_timeout=0.5, body_timeout=0.5, max_connections=4)
    connector = HTTPConnector(port=0, limits=limits, rate_limit_per_minute=0, max_body_bytes=200)
    async with running([connector], [connector], Recorder()):
        yield connector


async def test_keep_alive_pipelining_and_a_handover_mid_connection(http: HTTPConnector) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
    try:
        writer.write(post("one"))
        status, _, body = await answer(reader)
        assert status == 200 and body["replies"] == [{"text": "echo: one"}]  # type: ignore[index]

        writer.write(post("two") + post("three"))  # pipelined: answered in order
        texts = [(await answer(reader))[2]["replies"][0]["text"] for _ in range(2)]  # type: ignore[index]
        assert texts == ["echo: two", "echo: three"]

        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + post("four", close=True))
        assert (await answer(reader))[2] == {"status": "ok"}
        status, headers, body = await answer(reader)
        assert status == 200 and body["replies"] == [{"text": "echo: four"}]  # type: ignore[index]
        assert headers["connection"] == "close"
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
    finally:
        writer.close()


async def test_what_the_front_does_not_serve_is_answered_as_before(http: HTTPConnector) -> None:
    cases = [
        (post("x" * 300), 413, "body_too_large"),  # over max_body_bytes
        (b"GET /v1/messages HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method_not_allowed"),
        (b"POST /v1/nothing HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 404, "not_found"),
        (
            b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2"
            b"\r\n\r\n{}",
            400,
            "bad_request",
        ),
    ]
    for raw, status, code in cases:
        reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
        try:
            writer.write(raw)
            got, _, body = await answer(reader)
            assert (got, body["error"]["code"]) == (status, code), raw  # type: ignore[index]
        finally:
            writer.close()

    chunked = b'{"text": "in chunks"}'
    for raw in (
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunked), chunked),
        post("old", close=True).replace(b"HTTP/1.1", b"HTTP/1.0"),
        post("continue", headers="Expect: 100-continue\r\n"),
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
        try:
            writer.write(raw)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
            if b" 100 " in head.split(b"\r\n", 1)[0]:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
            assert head.split(b" ", 2)[1] == b"200", raw
        finally:
            writer.close()


async def test_the_limits_hold_on_the_front(
    http: HTTPConnector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    idle = [await asyncio.open_connection("127.0.0.1", http.port) for _ in range(4)]
    over_reader, over_writer = await asyncio.open_connection("127.0.0.1", http.port)
    status, headers, _ = await answer(over_reader)  # the fifth is over the cap of 4
    assert status == 503 and headers["retry-after"] == "1"
    over_writer.close()
    for reader, writer in idle:  # closed by the idle timeout, without a word
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
        writer.close()

    reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
    try:
        writer.write(post("hello")[:-3])  # the body never ends
        status, headers, body = await answer(reader)
        assert status == 408 and headers["connection"] == "close"
        assert "did not arrive within 0.5s" in body["error"]["message"]  # type: ignore[index]
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
    finally:
        writer.close()
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING and "cap" not in r.message]
    assert not loud, [r.getMessage() for r in loud]


async def test_refusals_on_the_front_keep_their_status_headers_and_connection() -> None:
    http = HTTPConnector(port=0, auth_token="s3cret", rate_limit_per_minute=60, rate_limit_burst=2)
    async with running([http], [http], Recorder()):
        reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
        try:
            writer.write(post("no token"))
            status, headers, body = await answer(reader)
            assert status == 401 and headers["www-authenticate"] == "Bearer"
            assert body["error"]["code"] == "unauthorized"  # type: ignore[index]

            writer.write(post("ok", headers="Authorization: Bearer s3cret\r\n"))
            assert (await answer(reader))[0] == 200

            writer.write(post("too many", headers="Authorization: Bearer s3cret\r\n"))
            status, headers, body = await answer(reader)
            assert status == 429 and int(headers["retry-after"]) >= 1
            assert body["error"]["code"] == "rate_limited"  # type: ignore[index]

            writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nnope")
            assert (await answer(reader))[0] == 429  # the same connection goes on
        finally:
            writer.close()


async def test_a_request_in_flight_at_shutdown_is_answered_before_its_connection_closes() -> None:
    entered = asyncio.Event()

    async def slow(message: Message, context: AgentContext) -> str:
        entered.set()
        await asyncio.sleep(0.3)
        return f"late: {message.text}"

    http = HTTPConnector(port=0, rate_limit_per_minute=0)
    async with running([http], [http], slow):
        reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", http.port)
        writer.write(post("bye"))
        await asyncio.wait_for(entered.wait(), WAIT)
    try:
        status, _, body = await answer(reader)
        assert status == 200 and body["replies"] == [{"text": "late: bye"}]  # type: ignore[index]
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
        assert await asyncio.wait_for(idle_reader.read(), WAIT) == b""
    finally:
        writer.close()
        idle_writer.close()
