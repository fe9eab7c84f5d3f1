"""Tools from plain functions: schema from type hints, docstring descriptions, validation."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from agent_runner import AgentContext
from agent_runner.llm import Tool, ToolArgumentsError, tool
from tests.llm.support import make_context, message


def get_weather(city: str, unit: Literal["C", "F"] = "C", days: int = 1) -> str:
    """Current weather in a city.

    Args:
        city: the city's name, e.g. "Paris".
        unit: degrees Celsius or
            Fahrenheit.
        days: how many days.

    Returns:
        A sentence.
    """
    return f"{city}: 20 {unit} for {days} days"


async def add(a: int, b: int) -> int:
    """Add two integers."""
    await asyncio.sleep(0)
    return a + b


class Point(BaseModel):
    x: float
    y: float


def test_schema_from_type_hints_and_docstring() -> None:
    weather = Tool(get_weather)
    assert weather.name == "get_weather"
    assert weather.description == "Current weather in a city."
    assert weather.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": 'the city\'s name, e.g. "Paris".'},
            "unit": {
                "type": "string",
                "enum": ["C", "F"],
                "default": "C",
                "description": "degrees Celsius or Fahrenheit.",
            },
            "days": {"type": "integer", "default": 1, "description": "how many days."},
        },
        "required": ["city"],
    }


def test_nested_models_annotated_fields_and_unannotated_parameters() -> None:
    def place(  # type: ignore[no-untyped-def]
        where: Point,
        label: Annotated[str, Field(description="a short label", max_length=5)],
        anything=None,  # unannotated: any JSON value
        **extra: Any,
    ) -> None:
        """Place a point."""

    schema = Tool(place).parameters
    assert schema["required"] == ["where", "label"]
    assert schema["properties"]["label"] == {
        "type": "string",
        "description": "a short label",
        "maxLength": 5,
    }
    assert schema["properties"]["where"] == {"$ref": "#/$defs/Point"}
    assert schema["$defs"]["Point"]["required"] == ["x", "y"]
    assert "anything" in schema["properties"] and "extra" not in schema["properties"]


def test_names_are_checked() -> None:
    with pytest.raises(ValueError, match="tool name"):
        Tool(lambda: None)  # "<lambda>"
    assert Tool(lambda: None, name="noop", description="Nothing.").name == "noop"

    @tool(name="sum-two")
    def summed(a: int, b: int) -> int:
        return a + b

    assert summed.name == "sum-two" and summed.description == ""


async def test_async_tool_runs_on_the_loop_and_result_is_json() -> None:
    assert await Tool(add).run('{"a": 2, "b": "3"}') == "5"  # lax mode: "3" -> 3


async def test_sync_tool_runs_in_a_thread() -> None:
    seen: list[str] = []

    def where() -> str:
        seen.append(threading.current_thread().name)
        return "ok"

    assert await Tool(where).run("") == "ok"
    assert seen and seen[0] != threading.main_thread().name


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ('{"a": 1', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"a": 1}', "b: Field required"),
        ('{"a": "x", "b": 2}', "a: Input should be a valid integer"),
    ],
)
async def test_bad_arguments_raise_a_readable_error(arguments: str, match: str) -> None:
    with pytest.raises(ToolArgumentsError, match=match):
        await Tool(add).run(arguments)


async def test_results_are_encoded_for_the_model() -> None:
    @dataclass
    class Forecast:
        day: date
        high: float

    def forecast() -> list[Forecast]:
        return [Forecast(date(2026, 1, 2), 3.5)]

    def nothing() -> None:
        return None

    def model_result() -> Point:
        return Point(x=1, y=2)

    assert await Tool(forecast).run({}) == '[{"day":"2026-01-02","high":3.5}]'
    assert await Tool(nothing).run({}) == "null"
    assert await Tool(model_result).run({}) == '{"x":1.0,"y":2.0}'


async def test_context_parameter_is_injected_not_shown() -> None:
    async def who(context: AgentContext, greeting: str = "hi") -> str:
        return f"{greeting} {context.message.author.id}"

    made = Tool(who)
    assert list(made.parameters["properties"]) == ["greeting"]
    context = make_context(message("x", author="grace"))
    assert await made.run('{"greeting": "hello"}', context=context) == "hello grace"


async def test_callable_object_with_async_call() -> None:
    class Counter:
        """Count calls."""

        __name__ = "counter"

        def __init__(self) -> None:
            self.calls = 0

        async def __call__(self, step: int = 1) -> int:
            self.calls += step
            return self.calls

    counter = Counter()
    made = Tool(counter)
    assert made.definition.description == "Count calls."
    assert await made.run('{"step": 2}') == "2"


def test_approval_marks_are_a_flag_or_a_predicate_on_the_arguments() -> None:
    assert Tool(add).needs_approval({"a": 1, "b": 2}) is False
    assert Tool(add, requires_approval=True).needs_approval("{}") is True

    def big_sums(arguments: Any) -> bool:
        return bool(arguments["a"] + arguments["b"] > 100)

    guarded = Tool(add, requires_approval=big_sums)
    assert guarded.needs_approval('{"a": 1, "b": 2}') is False
    assert guarded.needs_approval({"a": 99, "b": "2"}) is True  # validated: "2" -> 2
    with pytest.raises(ToolArgumentsError):
        guarded.needs_approval('{"a": 1}')
    decorated = tool(requires_approval=True)(get_weather)
    assert decorated.requires_approval is True
