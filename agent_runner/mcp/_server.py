"""MCPServer: one MCP server declared in code, its tools offered to an LLMAgent."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agent_runner.backoff import RetryPolicy
from agent_runner.errors import MCPToolError
from agent_runner.llm import ApprovalRule, Tool
from agent_runner.mcp._results import exposed_name, is_allowed, result_text
from agent_runner.mcp._supervisor import Supervisor
from agent_runner.mcp._transports import HTTPTransport, StdioTransport, Transport
from agent_runner.outbound import OutboundGuard

if TYPE_CHECKING:
    from mcp.types import CallToolResult
    from mcp.types import Tool as MCPTool

DEFAULT_CALL_TIMEOUT = 25.0
"""Seconds per tool call: below LLMAgent's ``tool_timeout`` (30 s), so this clearer error
comes first."""

DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds for a server's handshake and first listing (a Python stdio server importing the
SDK takes a few seconds on a busy machine)."""

DEFAULT_RECONNECT = RetryPolicy(retries=sys.maxsize, base=0.5, cap=30.0, jitter="equal")
"""Reconnect for as long as the agent runs, waiting 0.5 s, 1 s, 2 s... and at most 30 s."""


class MCPServer:
    """An MCP server whose tools an :class:`~agent_runner.llm.LLMAgent` may call.

    Build one with :meth:`stdio` or :meth:`http` and put it in the agent's ``tools``; it
    connects at the first message (or at :meth:`start`), stays connected (a supervisor task
    reconnects with capped backoff and lists the tools again), and closes with the agent
    (so agents that share one server should close together).

    Args:
        transport: how to reach the server (what :meth:`stdio` and :meth:`http` build).
        name: the server's name in logs and in errors the model reads.
        allow: shell-style globs of the server's tool names to offer (None: all).
        deny: globs of tool names never offered (wins over ``allow``).
        prefix: put before each tool's name (``"gh_"``), to tell servers' tools apart.
        call_timeout: seconds per call, waiting for a reconnection included; a late answer
            is an error the model reads, and the server is told to cancel.
        connect_timeout: seconds for the handshake and the listing of the tools (also the
            limit of each later listing; a server that misses it is reconnected).
        reconnect: the waits between connection attempts (attempts from 1, counted again
            after a session that stayed up 10 s); when it gives up (``None``), so does
            the server: its tools answer "not available".
        health_interval: seconds between listings of the tools while idle, which notice
            changes on servers that send no notice and a dead HTTP server (None: never).
        requires_approval: which calls a person must approve first (with ``LLMAgent``'s
            ``approvals``): ``True`` for every tool, a predicate on a call's arguments, or
            a mapping from globs of the server's tool names to either (first match wins).

    Example:
        >>> git = MCPServer.stdio("uvx", ["mcp-server-git"], deny=["git_reset"])
        >>> docs = MCPServer.http("https://mcp.example.com/mcp", {"Authorization": "Bearer t"})
        >>> agent = LLMAgent(client, system_prompt="...", tools=[git, docs, my_function])
    """

    def __init__(
        self,
        transport: Transport,
        *,
        name: str,
        allow: Sequence[str] | None = None,
        deny: Sequence[str] = (),
        prefix: str = "",
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        reconnect: RetryPolicy = DEFAULT_RECONNECT,
        health_interval: float | None = 30.0,
        requires_approval: ApprovalRule | Mapping[str, ApprovalRule] = False,
    ) -> None:
        if call_timeout <= 0 or connect_timeout <= 0:
            raise ValueError("call_timeout and connect_timeout must be > 0")
        if health_interval is not None and health_interval <= 0:
            raise ValueError("health_interval must be > 0 or None")
        self.name = name
        self.allow = tuple(allow) if allow is not None else None
        self.deny = tuple(deny)
        self.prefix = prefix
        self.call_timeout = call_timeout
        self.requires_approval = requires_approval
        self._supervisor = Supervisor(
            name,
            transport,
            connect_timeout=connect_timeout,
            reconnect=reconnect,
            health_interval=health_interval,
        )
        self._tools: list[Tool] = []
        self._tools_version = 0

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        name: str | None = None,
        **options: Any,
    ) -> MCPServer:
        """A server run as a child process (``command args...``) spoken to over stdio.

        Args:
            command: the executable (``"npx"``, ``"uvx"``, ``sys.executable``).
            args: its arguments.
            env: variables for the child, over a minimal inherited set (``PATH``,
                ``HOME``, ...): the rest of our environment is not passed on.
            cwd: the child's working directory.
            name: the server's name (default: the command's file name).
            **options: the other :class:`MCPServer` options.
        """
        transport = StdioTransport(command, tuple(args), env, cwd)
        return cls(transport, name=name or Path(command).name, **options)

    @classmethod
    def http(
        cls,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        name: str | None = None,
        guard: OutboundGuard | None = None,
        **options: Any,
    ) -> MCPServer:
        """A server at a streamable-HTTP endpoint (``https://host/mcp``).

        Every connection goes through the outbound guard: private, loopback and link-local
        addresses are refused unless allow-listed (``AGENT_RUNNER_OUTBOUND_ALLOW``, or a
        ``guard`` such as ``OutboundGuard.build(["127.0.0.1"])``).

        Args:
            url: the endpoint.
            headers: sent with every request (never logged), e.g. ``Authorization``.
            name: the server's name (default: the URL's host).
            guard: the outbound guard (default: from the environment at each connection).
            **options: the other :class:`MCPServer` options.

        Raises:
            OutboundRefusedError: the URL's scheme is not http(s), or its host is a
                literal address the guard refuses.
        """
        checker = guard if guard is not None else OutboundGuard.from_env()
        checker.check_url(url)
        connect_timeout = float(options.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT))
        transport = HTTPTransport(url, dict(headers or {}), guard, connect_timeout)
        return cls(transport, name=name or urlsplit(url).hostname or url, **options)

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Connect now rather than at the first message; returns once the first attempt
        ended (connected, or failed and retrying in the background), ``connect_timeout``
        + 1 s at most."""
        await self._supervisor.wait_first_attempt()

    async def close(self) -> None:
        """Close the session (a stdio child is stopped, its process group killed)."""
        await self._supervisor.close()

    async def __aenter__(self) -> MCPServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        """True while a session is up."""
        return self._supervisor.connected

    @property
    def last_error(self) -> str | None:
        """Why the last session ended or the last attempt failed (None while connected)."""
        return self._supervisor.last_error

    # -- tools ----------------------------------------------------------------------------
    async def list_tools(self) -> list[Tool]:
        """The server's tools, filtered and named for the model (a :class:`ToolSource`).

        The first call waits for the first connection attempt; later ones answer at once
        with the tools last listed, also while reconnecting (their calls then wait for the
        connection within their timeout).
        """
        await self._supervisor.wait_first_attempt()
        if self._tools_version != self._supervisor.version:
            self._tools = self._build_tools(self._supervisor.listing)
            self._tools_version = self._supervisor.version
        return list(self._tools)

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the call's own: the server is told
    ) -> CallToolResult:
        """Call the server's tool ``name`` (its own name, without prefix), within ``timeout``
        seconds (default: ``call_timeout``); on timeout the server is told to cancel.

        Returns:
            The SDK's ``CallToolResult``; ``is_error`` is true when the tool failed.

        Raises:
            MCPToolError: the server is not available, the connection was lost during the
                call, the call timed out, or the server refused it (unknown tool...).
        """
        seconds = timeout if timeout is not None else self.call_timeout
        return await self._supervisor.call(name, arguments or {}, seconds=seconds)

    def _build_tools(self, listing: Sequence[MCPTool]) -> list[Tool]:
        tools: list[Tool] = []
        for spec in listing:
            if is_allowed(spec.name, allow=self.allow, deny=self.deny):
                tools.append(self._tool(spec))
        return tools

    def _tool(self, spec: MCPTool) -> Tool:
        remote = spec.name

        async def call(**arguments: Any) -> str:
            result = await self.call_tool(remote, arguments)
            text = result_text(result)
            if result.is_error:
                raise MCPToolError(text or f"{remote} failed", reason="error")
            return text

        return Tool(
            call,
            name=exposed_name(remote, self.prefix),
            description=spec.description or spec.title or "",
            parameters=spec.input_schema,
            requires_approval=self._approval_rule(remote),
        )

    def _approval_rule(self, remote: str) -> ApprovalRule:
        rule = self.requires_approval
        if not isinstance(rule, Mapping):
            return rule
        return next((r for glob, r in rule.items() if fnmatchcase(remote, glob)), False)

    def __repr__(self) -> str:
        return f"MCPServer(name={self.name!r}, {self._supervisor.transport.describe()})"


__all__ = ["DEFAULT_CALL_TIMEOUT", "DEFAULT_CONNECT_TIMEOUT", "DEFAULT_RECONNECT", "MCPServer"]
