"""Tools from MCP servers for :class:`~agent_runner.llm.LLMAgent` (the ``mcp`` extra).

::

    from agent_runner.llm import LLMAgent, OpenAIClient
    from agent_runner.mcp import MCPServer

    git = MCPServer.stdio("uvx", ["mcp-server-git", "--repository", "."], deny=["git_reset*"])
    docs = MCPServer.http("https://mcp.example.com/mcp", {"Authorization": "Bearer ..."},
                          prefix="docs_")
    agent = LLMAgent(OpenAIClient(model="gpt-4o-mini"), system_prompt="...",
                     tools=[git, docs, my_function])

or, from settings, ``MCP_SERVERS`` (JSON, Claude Desktop's ``mcpServers`` shape; see
:class:`MCPSettings`), which :func:`~agent_runner.llm.agent_from_env` adds by itself.

An :class:`MCPServer` is a :class:`~agent_runner.llm.ToolSource`: the agent asks it for its
current tools at each message and gets plain :class:`~agent_runner.llm.Tool` objects, the
server's JSON schema passed through, so whatever applies to our own tools applies to these.
Results become the text the model reads; a tool's error, a timeout, a lost connection or an
unreachable server become an :class:`~agent_runner.errors.MCPToolError` the model reads as
the tool's result, and the turn goes on. Each server's session is owned by one supervisor
task that reconnects with capped backoff and lists the tools again; see
``_supervisor.py`` for how the SDK's anyio scopes are kept away from the callers' tasks.

Why a package beside :mod:`agent_runner.llm` rather than inside it: MCP is a protocol
client with its own transports, processes, supervision and settings, usable by any agent
(``await server.call_tool(...)``), not a part of talking to a model; ``llm`` only defines
the :class:`~agent_runner.llm.ToolSource` it needs, and the optional SDK stays out of it.
Dependencies point one way: ``mcp`` imports ``llm``, never the reverse (``agent_from_env``
imports this package inside the function, when it runs). The SDK (``mcp``, with ``anyio``
and ``httpx2``) is imported only when a server connects.
"""

from agent_runner.errors import MCPFailure, MCPToolError
from agent_runner.mcp._results import exposed_name, is_allowed, result_text
from agent_runner.mcp._server import (
    DEFAULT_CALL_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_RECONNECT,
    MCPServer,
)
from agent_runner.mcp._settings import MCPServerConfig, MCPSettings, servers_from_env
from agent_runner.mcp._transports import HTTPTransport, StdioTransport, Transport

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_RECONNECT",
    "HTTPTransport",
    "MCPFailure",
    "MCPServer",
    "MCPServerConfig",
    "MCPSettings",
    "MCPToolError",
    "StdioTransport",
    "Transport",
    "exposed_name",
    "is_allowed",
    "result_text",
    "servers_from_env",
]
