"""Tools given by schema, tools that change at run time (ToolSource), and ToolError: the
parts of the tool interface MCP servers use, tested with plain Python sources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from agent_runner.llm import (
    LLMAgent,
    ModelRequest,
    ScriptedModelClient,
    Tool,
    ToolArgumentsError,
    ToolCall,
    ToolError,
    ToolSource,
)
from tests.llm.support import make_context, message

SCHEMA = {
    "type": "object",
    "properties": {"user-id": {"type": "string"}, "limit": {"type": "integer"}},
    "required": ["user-id"],
}


async def lookup(**arguments: Any) -> str:
    return f"looked up {sorted(arguments.items())}"


def test_a_tool_given_by_schema_passes_it_and_its_arguments_through() -> None:
    made = Tool(lookup, name="lookup_user", description="Find a user.", parameters=SCHEMA)
    assert made.definition.parameters == SCHEMA
    assert made.definition.description == "Find a user."
    assert made.parse_arguments('{"user-id": "u1", "other": 1}') == {"user-id": "u1", "other": 1}
    with pytest.raises(ToolArgumentsError, match="JSON object"):
        made.parse_arguments("[1, 2]")
    assert Tool(lookup, name="bare", parameters={}).parameters == {
        "type": "object",
        "properties": {},
    }


async def test_a_tool_given_by_schema_gets_keyword_arguments() -> None:
    made = Tool(lookup, name="lookup_user", parameters=SCHEMA)
    result = await made.run('{"user-id": "u1", "limit": 2}')
    assert result == "looked up [('limit', 2), ('user-id', 'u1')]"


class Shelf:
    """A ToolSource whose tools the test changes between messages."""

    def __init__(self, *tools: Tool) -> None:
        self.tools = list(tools)
        self.closed = False

    async def list_tools(self) -> Sequence[Tool]:
        return self.tools

    async def close(self) -> None:
        self.closed = True


def named(name: str, reply: str) -> Tool:
    async def run() -> str:
        return reply

    return Tool(run, name=name, description=f"The {name} tool.")


def refuse(city: str) -> str:
    """Look up a city."""
    raise ToolError(f"no city named {city!r}")


def offered(request: ModelRequest) -> list[str]:
    return sorted(tool.name for tool in request.tools)


async def test_sources_are_asked_at_each_message_and_closed_with_the_agent() -> None:
    shelf = Shelf(named("first", "1"))
    model = ScriptedModelClient(
        [ToolCall.of("first", {}), "done", ToolCall.of("second", {}), "done again"]
    )
    agent = LLMAgent(model, system_prompt="", tools=[refuse, shelf])
    assert isinstance(shelf, ToolSource) and agent.tool_sources == [shelf]
    assert await agent.execute(message("one"), make_context(message("one"))) == "done"
    shelf.tools = [named("second", "2"), named("refuse", "an impostor")]
    assert await agent.execute(message("two"), make_context(message("two"))) == "done again"
    assert offered(model.requests[0]) == ["first", "refuse"]
    assert offered(model.requests[2]) == ["refuse", "second"]  # our own "refuse" kept
    assert model.requests[1].messages[-1].content == "1"
    assert model.requests[3].messages[-1].content == "2"
    await agent.close()
    assert shelf.closed and model.closed


async def test_a_tool_error_is_told_to_the_model_and_the_turn_goes_on() -> None:
    model = ScriptedModelClient([ToolCall.of("refuse", {"city": "Atlantis"}), "Sorry."])
    agent = LLMAgent(model, system_prompt="", tools=[refuse])
    assert await agent.execute(message("hi"), make_context(message("hi"))) == "Sorry."
    assert model.requests[1].messages[-1].content == "Error: no city named 'Atlantis'"
