"""MCP servers declared in settings: ``MCP_SERVERS`` (JSON), ``MCP_CALL_TIMEOUT``,
``MCP_CONNECT_TIMEOUT``.

``MCP_SERVERS`` is a JSON object from a server's name to how to start or reach it: the
``mcpServers`` object of Claude Desktop's, Cursor's or VS Code's configuration files, which
can be pasted as it is (with or without the ``{"mcpServers": ...}`` wrapper), plus our
keys::

    MCP_SERVERS={"git": {"command": "uvx", "args": ["mcp-server-git"], "deny": ["git_reset"]},
                 "docs": {"url": "https://mcp.example.com/mcp",
                          "headers": {"Authorization": "Bearer ..."}, "prefix": "docs_"}}

=============  ===================================================================
``command``    stdio: the executable; with ``args`` (list), ``env`` (object), ``cwd``
``url``        streamable HTTP: the endpoint; with ``headers`` (object)
``allow``      globs of tool names to offer (default: all)
``deny``       globs of tool names never offered
``prefix``     put before each tool's name
``timeout``    seconds per call (default ``MCP_CALL_TIMEOUT``)
``type``       ``"stdio"`` or ``"http"`` (``"streamable-http"``); optional, checked
=============  ===================================================================

An HTTP server goes through the outbound guard: a server on this machine or the private
network needs ``AGENT_RUNNER_OUTBOUND_ALLOW``. ``env`` and ``headers`` may hold secrets;
they are never logged.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agent_runner.errors import ConfigurationError
from agent_runner.mcp._server import DEFAULT_CALL_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, MCPServer
from agent_runner.outbound import OutboundGuard


class MCPServerConfig(BaseModel):
    """One entry of ``MCP_SERVERS`` (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["stdio", "http", "streamable-http", "streamableHttp"] | None = None
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict, repr=False)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    allow: list[str] | None = None
    deny: list[str] = Field(default_factory=list)
    prefix: str = ""
    timeout: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either a command (stdio) or a url (streamable HTTP)")
        if self.type == "stdio" and self.command is None:
            raise ValueError('type "stdio" needs a command')
        if self.type not in (None, "stdio") and self.url is None:
            raise ValueError(f"type {self.type!r} needs a url")
        return self


class MCPSettings(BaseSettings):
    """The ``MCP_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="MCP_", extra="ignore", env_ignore_empty=True)

    servers: Annotated[dict[str, MCPServerConfig], NoDecode] = Field(default_factory=dict)
    call_timeout: float = Field(default=DEFAULT_CALL_TIMEOUT, gt=0)
    connect_timeout: float = Field(default=DEFAULT_CONNECT_TIMEOUT, gt=0)

    @field_validator("servers", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return {}
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"MCP_SERVERS is not valid JSON ({exc})") from None
        if isinstance(value, dict) and set(value) == {"mcpServers"}:
            value = value["mcpServers"]
        return value

    def build(self, *, guard: OutboundGuard | None = None) -> list[MCPServer]:
        """An :class:`MCPServer` per entry, in the order given."""
        servers = []
        for name, entry in self.servers.items():
            options: dict[str, Any] = {
                "name": name,
                "allow": entry.allow,
                "deny": entry.deny,
                "prefix": entry.prefix,
                "call_timeout": entry.timeout or self.call_timeout,
                "connect_timeout": self.connect_timeout,
            }
            if entry.command is not None:
                servers.append(
                    MCPServer.stdio(
                        entry.command, entry.args, env=entry.env or None, cwd=entry.cwd, **options
                    )
                )
            else:
                assert entry.url is not None
                servers.append(MCPServer.http(entry.url, entry.headers, guard=guard, **options))
        return servers


def describe_servers() -> str:
    """``MCP_SERVERS`` in one printable line, without secrets (for ``agent-runner check``)."""
    from urllib.parse import urlsplit

    try:
        servers = MCPSettings().servers
    except ValidationError as exc:
        return f"(invalid: {exc.error_count()} problems; see the error when the agent starts)"
    parts = []
    for name, entry in servers.items():
        if entry.command is not None:
            parts.append(f"{name} (stdio {entry.command})")
        else:
            parts.append(f"{name} (http {urlsplit(entry.url or '').hostname})")
    return ", ".join(parts) or "(unset)"


def servers_from_env(*, guard: OutboundGuard | None = None) -> list[MCPServer]:
    """The servers ``MCP_SERVERS`` declares (none when it is unset).

    Raises:
        ConfigurationError: ``MCP_SERVERS`` is not valid (the message says where), or an
            HTTP server's URL is refused by the outbound guard.
    """
    from agent_runner.errors import OutboundRefusedError
    from agent_runner.settings import settings_error

    try:
        settings = MCPSettings()
    except ValidationError as exc:
        raise ConfigurationError(settings_error(exc, prefix="MCP_")) from None
    try:
        return settings.build(guard=guard)
    except OutboundRefusedError as exc:
        raise ConfigurationError(f"MCP_SERVERS: {exc}") from None


__all__ = ["MCPServerConfig", "MCPSettings", "describe_servers", "servers_from_env"]
