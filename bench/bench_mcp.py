"""Benchmark MCP tool calls: ``python bench/bench_mcp.py [--quick]``.

A tool call's round trip (``add``, sequential) to the tests' MCP server
(``tests/mcp/server_app.py``, the SDK's MCPServer), over stdio and over streamable HTTP on
127.0.0.1, three ways in the same run:

* raw: the SDK's ``Client.call_tool`` in the caller's task (the baseline);
* ours: ``MCPServer.call_tool`` (the call runs in the supervisor's task group, the caller
  awaits a future; over HTTP every request also passes the outbound guard);
* tool: the model's path, ``Tool.run`` on the JSON arguments (parse, call, result as text).

Rounds alternate raw and ours so that a busy machine slows both alike; the best round of
each is kept. Ratios are ours / raw in seconds per call (1.00: no overhead).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.mcp

from mcp import Client, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from agent_runner.mcp import MCPServer  # noqa: E402
from tests.mcp.support import LOCAL, SERVER_APP, HTTPServerProcess  # noqa: E402

QUICK = "--quick" in sys.argv
CALLS = 100 if QUICK else 400
ROUNDS = 3


def out(line: str) -> None:
    sys.stdout.write(line + "\n")


async def per_call(step: Callable[[], Awaitable[object]]) -> float:
    """Seconds per call over CALLS sequential calls (after a short warm-up)."""
    for _ in range(10):
        await step()
    start = time.perf_counter()
    for _ in range(CALLS):
        await step()
    return (time.perf_counter() - start) / CALLS


async def compare(label: str, raw: Client, ours: MCPServer) -> None:
    tool = next(t for t in await ours.list_tools() if t.name == "add")
    steps: dict[str, Callable[[], Awaitable[object]]] = {
        "raw": lambda: raw.call_tool("add", {"a": 1, "b": 2}),
        "ours": lambda: ours.call_tool("add", {"a": 1, "b": 2}),
        "tool": lambda: tool.run('{"a": 1, "b": 2}'),
    }
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(ROUNDS):
        for name, step in steps.items():
            best[name] = min(best[name], await per_call(step))
    out(f"{label}: {CALLS} sequential calls of add, best of {ROUNDS} alternating rounds")
    for name, seconds in best.items():
        ratio = seconds / best["raw"]
        out(f"  {name:<5} {seconds * 1000:8.2f} ms per call  {1 / seconds:8,.0f} /s  x{ratio:.2f}")


async def main() -> None:
    params = StdioServerParameters(command=sys.executable, args=[str(SERVER_APP), "stdio"])
    async with (
        Client(stdio_client(params), cache=None) as raw,
        MCPServer.stdio(sys.executable, [str(SERVER_APP), "stdio"]) as ours,
    ):
        await compare("stdio", raw, ours)
    process = HTTPServerProcess(Path("/tmp/agent-runner-bench-mcp.pid"))
    await process.start()
    try:
        async with (
            Client(streamable_http_client(process.url), cache=None) as raw_http,
            MCPServer.http(process.url, guard=LOCAL) as ours_http,
        ):
            await compare("http", raw_http, ours_http)
    finally:
        await process.stop()


if __name__ == "__main__":
    asyncio.run(main())
