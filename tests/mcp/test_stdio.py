"""MCP over stdio against a real server process (``server_app.py``, the SDK's MCPServer):
listing, results, errors, timeouts, cancellation, a server killed mid-call, closing.

The tests that leave the server as they found it share one child (a Python child importing
the SDK takes seconds on a busy machine); the others start their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from agent_runner.backoff import RetryPolicy
from agent_runner.errors import MCPToolError
from agent_runner.llm import Tool
from agent_runner.mcp import MCPServer
from tests.mcp.support import alive, kill_when_slow_call_started, pid_in, stdio_server, wait_until


def by_name(tools: list[Tool]) -> dict[str, Tool]:
    return {tool.name: tool for tool in tools}


@pytest.fixture(scope="module")
def shared_pidfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shared") / "pid"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared(shared_pidfile: Path) -> AsyncIterator[MCPServer]:
    """One stdio server for the tests that do not change or kill it."""
    async with stdio_server(shared_pidfile) as server:
        yield server


@pytest.mark.asyncio(loop_scope="module")
async def test_tools_are_listed_with_their_schema_and_called(shared: MCPServer) -> None:
    tools = by_name(await shared.list_tools())
    assert shared.connected
    assert {"add", "echo", "slow", "fail", "picture", "grow", "pid"} <= set(tools)
    assert "admin_delete_all" in tools  # "admin.delete_all": a name the model accepts
    add = tools["add"]
    assert add.description == "Add two integers."
    assert add.parameters["properties"]["a"]["type"] == "integer"
    assert add.parameters["required"] == ["a", "b"]
    assert await add.run('{"a": 2, "b": 3}') == "5"
    assert await tools["echo"].run({"text": "héllo"}) == "héllo"
    assert await tools["picture"].run("{}") == "a red dot\n[image: image/png, 8 bytes]"
    assert await tools["admin_delete_all"].run("{}") == "deleted"


@pytest.mark.asyncio(loop_scope="module")
async def test_errors_become_tool_errors_the_model_reads(shared: MCPServer) -> None:
    tools = by_name(await shared.list_tools())
    with pytest.raises(MCPToolError, match="no such city") as failed:
        await tools["fail"].run('{"reason": "no such city"}')
    assert failed.value.reason == "error"
    with pytest.raises(MCPToolError, match="validation error") as invalid:
        await tools["add"].run('{"a": "two"}')  # the server validates the arguments
    assert invalid.value.reason == "error"
    unknown = await shared.call_tool("no_such_tool", {})
    assert unknown.is_error
    assert await tools["add"].run('{"a": 1, "b": 1}') == "2"  # the session is fine


@pytest.mark.asyncio(loop_scope="module")
async def test_a_slow_tool_hits_the_call_timeout_and_the_session_goes_on(
    shared: MCPServer,
) -> None:
    with pytest.raises(MCPToolError, match=r"did not answer within 0.5 s") as late:
        await shared.call_tool("slow", {"seconds": 30}, timeout=0.5)
    assert late.value.reason == "timeout"
    assert (await shared.call_tool("add", {"a": 20, "b": 22})).structured_content == {"result": 42}
    assert shared.connected


@pytest.mark.asyncio(loop_scope="module")
async def test_a_caller_cancelled_mid_call_leaves_the_session_usable(
    shared: MCPServer, shared_pidfile: Path
) -> None:
    started = Path(f"{shared_pidfile}.slow")
    await asyncio.to_thread(started.unlink, missing_ok=True)  # an earlier test's slow call
    call = asyncio.create_task(shared.call_tool("slow", {"seconds": 30}))
    await wait_until(started.exists)  # the server is running the call
    await asyncio.to_thread(started.unlink)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    result = await shared.call_tool("add", {"a": 1, "b": 2})
    assert result.structured_content == {"result": 3}


async def test_server_killed_mid_call_fails_the_call_and_is_reconnected(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    async with stdio_server(pidfile, call_timeout=30.0) as server:
        tools = by_name(await server.list_tools())
        first_pid = pid_in(pidfile)
        call = asyncio.create_task(tools["slow"].run('{"seconds": 30}'))
        killed = await kill_when_slow_call_started(pidfile)
        assert killed == first_pid
        with pytest.raises(MCPToolError, match="lost during the call") as lost:
            await asyncio.wait_for(call, timeout=10)  # promptly, far below the 30 s timeout
        assert lost.value.reason == "disconnected"
        await wait_until(lambda: server.connected and pid_in(pidfile) != first_pid)
        assert await tools["add"].run('{"a": 1, "b": 2}') == "3"  # the same Tool, a new child
        assert await tools["pid"].run("{}") == str(pid_in(pidfile))


async def test_tools_list_changed_is_followed(tmp_path: Path) -> None:
    async with stdio_server(tmp_path / "pid", health_interval=None) as server:
        tools = by_name(await server.list_tools())
        assert "extra" not in tools
        assert await tools["grow"].run("{}") == "grown"
        names: set[str] = set()

        async def listed() -> None:
            while "extra" not in names:
                names.update(t.name for t in await server.list_tools())
                await asyncio.sleep(0.02)

        await asyncio.wait_for(listed(), timeout=10)
        assert await by_name(await server.list_tools())["extra"].run("{}") == "extra!"


async def test_close_kills_the_child_and_later_calls_are_unavailable(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    server = stdio_server(pidfile)
    await server.start()
    pid = pid_in(pidfile)
    assert pid is not None and alive(pid)
    await server.close()
    assert not alive(pid)
    with pytest.raises(MCPToolError, match="not available") as after:
        await server.call_tool("add", {"a": 1, "b": 2})
    assert after.value.reason == "unavailable"


async def test_a_server_that_never_answers_the_handshake_times_out(tmp_path: Path) -> None:
    server = MCPServer.stdio(
        "sleep", ["60"], connect_timeout=0.5, reconnect=RetryPolicy(retries=1, base=0.01)
    )
    async with server:  # start() returns within connect_timeout + 1 s
        assert not server.connected
        await wait_until(
            lambda: "no handshake and listing within 0.5 s" in (server.last_error or "")
        )
        await wait_until(lambda: "gave up after 2 attempts" in (server.last_error or ""))


async def test_a_command_that_cannot_start_is_retried_then_given_up(tmp_path: Path) -> None:
    server = MCPServer.stdio(
        str(tmp_path / "no-such-server"), reconnect=RetryPolicy(retries=2, base=0.01, cap=0.02)
    )
    async with server:
        assert await server.list_tools() == []
        await wait_until(lambda: "gave up" in (server.last_error or ""))
        with pytest.raises(MCPToolError, match="not available") as down:
            await server.call_tool("add", {"a": 1, "b": 2})
        assert down.value.reason == "unavailable"
