"""The local MCP server examples/assistant_bot.py uses (stdio, written with the ``mcp`` SDK).

Run by the example as a child process: ``python examples/assistant_mcp_server.py``.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("assistant-tools")

RATES = {"EUR": 1.0, "USD": 1.08, "GBP": 0.86}


@server.tool()
def convert(amount: float, to: str) -> str:
    """Convert an amount of euros to another currency (EUR, USD or GBP)."""
    rate = RATES.get(to.upper())
    if rate is None:
        raise ValueError(f"unknown currency {to!r}")
    return f"{amount:.2f} EUR = {amount * rate:.2f} {to.upper()}"


if __name__ == "__main__":
    server.run()
