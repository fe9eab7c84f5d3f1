"""MCP over streamable HTTP against a real server process on 127.0.0.1 (``server_app.py``),
through the outbound guard: calls, filters, a refused destination, a server killed
mid-call and restarted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from agent_runner.backoff import RetryPolicy
from agent_runner.errors import MCPToolError, OutboundRefusedError
from agent_runner.mcp import MCPServer
from agent_runner.outbound import OutboundGuard
from tests.mcp.support import (
    FAST_RECONNECT,
    LOCAL,
    HTTPServerProcess,
    kill_when_slow_call_started,
    pid_in,
    wait_until,
)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def process(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HTTPServerProcess]:
    """One HTTP server process for the tests that do not kill it (sessions are cheap)."""
    running = HTTPServerProcess(tmp_path_factory.mktemp("http") / "pid")
    await running.start()
    yield running
    await running.stop()


@pytest.mark.asyncio(loop_scope="module")
async def test_tools_are_called_through_the_guard(process: HTTPServerProcess) -> None:
    server = MCPServer.http(process.url, {"X-Test": "1"}, guard=LOCAL, name="web")
    async with server:
        tools = {tool.name: tool for tool in await server.list_tools()}
        assert server.connected
        assert await tools["add"].run('{"a": 2, "b": 40}') == "42"
        assert await tools["picture"].run("{}") == "a red dot\n[image: image/png, 8 bytes]"
        with pytest.raises(MCPToolError, match="bad input") as failed:
            await tools["fail"].run({"reason": "bad input"})
        assert failed.value.reason == "error"
        with pytest.raises(MCPToolError, match="within 0.5 s") as late:
            await server.call_tool("slow", {"seconds": 30}, timeout=0.5)
        assert late.value.reason == "timeout"
        assert await tools["echo"].run({"text": "still here"}) == "still here"


@pytest.mark.asyncio(loop_scope="module")
async def test_allow_deny_and_prefix(process: HTTPServerProcess) -> None:
    server = MCPServer.http(
        process.url, guard=LOCAL, allow=["a*", "e*", "f*"], deny=["admin.*"], prefix="web_"
    )
    async with server:
        names = sorted(t.name for t in await server.list_tools())
        assert names == ["web_add", "web_echo", "web_fail"]
        assert await (await server.list_tools())[0].run('{"a": 1, "b": 2}') == "3"
    everything_but = MCPServer.http(process.url, guard=LOCAL, deny=["*e*", "*i*", "gro?"])
    async with everything_but:
        assert sorted(t.name for t in await everything_but.list_tools()) == ["add", "slow"]


@pytest.mark.asyncio(loop_scope="module")
async def test_loopback_is_refused_unless_allow_listed(process: HTTPServerProcess) -> None:
    with pytest.raises(OutboundRefusedError, match="loopback"):
        MCPServer.http(process.url, guard=OutboundGuard())  # a literal address: at once
    by_name = process.url.replace("127.0.0.1", "localhost")  # a name: when it resolves
    server = MCPServer.http(by_name, guard=OutboundGuard(), reconnect=FAST_RECONNECT)
    async with server:
        assert await server.list_tools() == []
        with pytest.raises(MCPToolError, match="outbound guard.*loopback") as refused:
            await server.call_tool("add", {"a": 1, "b": 2})
        assert refused.value.reason == "unavailable"
        assert not server.connected


async def test_server_killed_mid_call_or_idle_then_restarted(tmp_path: Path) -> None:
    process = HTTPServerProcess(tmp_path / "pid")
    await process.start()
    server = MCPServer.http(
        process.url,
        guard=LOCAL,
        reconnect=RetryPolicy(retries=200, base=0.05, cap=0.5),
        health_interval=0.5,
    )
    try:
        async with server:
            tools = {tool.name: tool for tool in await server.list_tools()}
            first_pid = pid_in(process.pidfile)
            call = asyncio.create_task(tools["slow"].run('{"seconds": 30}'))
            await kill_when_slow_call_started(process.pidfile)
            with pytest.raises(MCPToolError, match="lost during the call") as lost:
                await asyncio.wait_for(call, timeout=10)  # promptly, far below the 25 s timeout
            assert lost.value.reason == "disconnected"
            await process.stop()
            await wait_until(lambda: not server.connected)
            await process.start()  # the same port, a new process
            await wait_until(lambda: server.connected and pid_in(process.pidfile) != first_pid)
            assert await tools["add"].run('{"a": 1, "b": 2}') == "3"
            assert await tools["pid"].run("{}") == str(pid_in(process.pidfile))

            second_pid = pid_in(process.pidfile)
            await process.stop()  # killed while idle: the health listing notices
            await wait_until(lambda: not server.connected)
            await process.start()
            await wait_until(lambda: server.connected and pid_in(process.pidfile) != second_pid)
            assert await tools["echo"].run({"text": "back"}) == "back"
    finally:
        await process.stop()


@pytest.mark.asyncio(loop_scope="module")
async def test_a_host_name_is_resolved_checked_and_connected_to_as_checked(
    process: HTTPServerProcess,
) -> None:
    guard = OutboundGuard.build(["127.0.0.1", "::1"])  # every address "localhost" may have
    server = MCPServer.http(process.url.replace("127.0.0.1", "localhost"), guard=guard)
    async with server:
        assert server.connected, server.last_error
        assert await (await server.list_tools())[0].run('{"a": 1, "b": 2}') == "3"
