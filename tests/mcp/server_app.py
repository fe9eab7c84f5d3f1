"""The MCP server the tests start, written with the SDK (``MCPServer``, v1's ``FastMCP``).

``python server_app.py stdio`` serves on stdin/stdout; ``python server_app.py http PORT``
serves streamable HTTP on 127.0.0.1:PORT (``/mcp``). With ``MCP_TEST_PIDFILE`` set it writes
its pid there first (the tests kill it mid-call).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver import MCPServer as SDKServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ImageContent, TextContent

server = SDKServer("test-tools")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@server.tool()
async def slow(seconds: float) -> str:
    """Wait this many seconds, then answer "done"."""
    marker = os.environ.get("MCP_TEST_PIDFILE")
    if marker:
        await anyio.Path(f"{marker}.slow").write_text("started")  # the tests may kill it now
    await anyio.sleep(seconds)
    return "done"


@server.tool()
def fail(reason: str) -> str:
    """Always fails with the reason."""
    raise ToolError(reason)


@server.tool()
def picture() -> list[TextContent | ImageContent]:
    """A caption and a small image."""
    return [
        TextContent(type="text", text="a red dot"),
        ImageContent(type="image", data="iVBORw0KGgo=", mime_type="image/png"),
    ]


@server.tool(name="admin.delete_all")
def delete_all() -> str:
    """Deletes everything (the filters keep it away from the model)."""
    return "deleted"


@server.tool()
async def grow(ctx: Context) -> str:
    """Add the tool "extra" and tell subscribers the tool list changed."""

    def extra() -> str:
        """A tool that appeared at run time."""
        return "extra!"

    server.add_tool(extra)
    await ctx.notify_tools_changed()
    return "grown"


@server.tool()
def pid() -> int:
    """This server's process id."""
    return os.getpid()


def main() -> None:
    pidfile = os.environ.get("MCP_TEST_PIDFILE")
    if pidfile:
        Path(pidfile).write_text(str(os.getpid()))
    if sys.argv[1] == "stdio":
        server.run()
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))


if __name__ == "__main__":
    main()
