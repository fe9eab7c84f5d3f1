"""MCP_SERVERS and friends: parsing, errors that name the setting, servers built from them,
and agent_from_env picking them up."""

from __future__ import annotations

import json

import pytest

from agent_runner.errors import ConfigurationError
from agent_runner.llm import LLMSettings, agent_from_env
from agent_runner.mcp import MCPServer, MCPSettings, servers_from_env
from agent_runner.settings import RunnerSettings


def test_unset_means_no_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCP_SERVERS", raising=False)
    assert servers_from_env() == []
    monkeypatch.setenv("MCP_SERVERS", "")
    assert servers_from_env() == []


def test_servers_in_claude_desktop_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {
        "mcpServers": {
            "git": {"command": "uvx", "args": ["mcp-server-git"], "env": {"TOKEN": "s3cret"}},
            "docs": {
                "type": "http",
                "url": "https://mcp.example.com/mcp",
                "headers": {"Authorization": "Bearer s3cret"},
                "prefix": "docs_",
                "allow": ["search*"],
                "deny": ["search_private"],
                "timeout": 5,
            },
        }
    }
    monkeypatch.setenv("MCP_SERVERS", json.dumps(config))
    monkeypatch.setenv("MCP_CALL_TIMEOUT", "12")
    git, docs = servers_from_env()
    assert isinstance(git, MCPServer) and git.name == "git"
    assert (git.call_timeout, git.allow, git.deny, git.prefix) == (12.0, None, (), "")
    assert (docs.name, docs.prefix, docs.call_timeout) == ("docs", "docs_", 5.0)
    assert (docs.allow, docs.deny) == (("search*",), ("search_private",))
    assert "s3cret" not in repr(git) + repr(docs) + repr(MCPSettings())
    described = RunnerSettings().describe()["MCP_SERVERS"]
    assert described == "git (stdio uvx), docs (http mcp.example.com)"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"x": {"command": "a", "url": "https://h/mcp"}}', "either a command"),
        ('{"x": {}}', "either a command"),
        ('{"x": {"command": "a", "colour": "red"}}', "Extra inputs"),
        ('{"x": {"type": "http", "command": "a"}}', "needs a url"),
        ('{"x": {"url": "https://h/mcp", "timeout": 0}}', "greater than 0"),
        ('{"x": {"url": "file:///etc/passwd"}}', "scheme"),
        ('{"x": {"url": "http://169.254.169.254/mcp"}}', "link-local"),
    ],
)
def test_invalid_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("MCP_SERVERS", value)
    with pytest.raises(ConfigurationError, match="MCP_SERVERS") as refused:
        servers_from_env()
    assert problem in str(refused.value)
    assert RunnerSettings().describe()["MCP_SERVERS"].startswith(("(invalid", "x ("))


async def test_agent_from_env_adds_the_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_SERVERS", '{"git": {"command": "uvx", "args": ["mcp-server-git"]}}')
    agent = agent_from_env(
        system_prompt="hi", settings=LLMSettings(base_url="http://127.0.0.1:9/v1", model="m")
    )
    assert agent is not None
    servers = [source for source in agent.tool_sources if isinstance(source, MCPServer)]
    assert [server.name for server in servers] == ["git"]
    await agent.close()  # never started: nothing to stop
