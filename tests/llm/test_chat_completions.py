"""The chat-completions wire format as pure functions (the client over HTTP: test_openai_client)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from agent_runner.llm import ChatMessage, Completion, ToolCall, Usage
from agent_runner.llm._chat_completions import (
    StreamState,
    completion_from_response,
    to_openai_message,
    with_estimated_usage,
)


def chunk(
    *,
    text: str | None = None,
    calls: Any = None,
    finish: str | None = None,
    index: int | None = 0,
    usage: Any = None,
    model: str = "",
) -> SimpleNamespace:
    """A ``ChatCompletionChunk`` as the SDK gives it (read by attribute)."""
    delta = SimpleNamespace(content=text, tool_calls=calls)
    choice = SimpleNamespace(index=index, delta=delta, finish_reason=finish)
    return SimpleNamespace(model=model, usage=usage, choices=[choice])


def call_delta(index: int | None, *, id: str = "", name: str = "", args: Any = None) -> Any:
    return SimpleNamespace(index=index, id=id, function=SimpleNamespace(name=name, arguments=args))


def test_a_streamed_answer_is_put_back_together() -> None:
    state = StreamState()
    pieces = [
        state.add(chunk(text="Hel", model="m-1")),
        state.add(chunk(text="lo")),
        state.add(chunk(text="ignored", index=1)),  # another choice than the first
        state.add(
            chunk(finish="stop", usage=SimpleNamespace(prompt_tokens=7, completion_tokens=2))
        ),
    ]
    assert pieces == [["Hel"], ["lo"], [], []]
    assert state.streamed
    assert state.completion("fallback") == Completion(
        content="Hello",
        tool_calls=(),
        usage=Usage(input_tokens=7, output_tokens=2),
        model="m-1",
        finish_reason="stop",
    )


@pytest.mark.parametrize(
    ("deltas", "expected"),
    [
        (  # arguments in pieces, the name only in the first
            [[call_delta(0, id="c1", name="add", args='{"a": ')], [call_delta(0, args="1}")]],
            (ToolCall(id="c1", name="add", arguments='{"a": 1}'),),
        ),
        (  # a server that sends the arguments as an object, and no id
            [[call_delta(0, name="add", args={"a": 1})]],
            (ToolCall(id="call_0", name="add", arguments='{"a": 1}'),),
        ),
        (  # no index: each delta is the next call
            [[call_delta(None, id="x", name="f")], [call_delta(None, id="y", name="g")]],
            (ToolCall(id="x", name="f", arguments=""), ToolCall(id="y", name="g", arguments="")),
        ),
    ],
)
def test_streamed_tool_calls(deltas: list[list[Any]], expected: tuple[ToolCall, ...]) -> None:
    state = StreamState()
    for calls in deltas:
        assert state.add(chunk(calls=calls)) == []
    completion = state.completion("m")
    assert completion.tool_calls == expected
    assert completion.content is None and not state.streamed
    assert completion.usage.estimated and completion.model == "m"


def test_a_response_without_usage_gets_an_estimate() -> None:
    message = SimpleNamespace(content="4", tool_calls=None)
    response = SimpleNamespace(
        choices=[SimpleNamespace(message=message, finish_reason="stop")], usage=None, model=None
    )
    completion = completion_from_response(response, "m")
    assert completion.usage == Usage(estimated=True) and completion.model == "m"
    prompt = [ChatMessage.user("What is 2 + 2?")]
    estimated = with_estimated_usage(completion, prompt, ())
    assert estimated.usage.estimated
    assert estimated.usage.input_tokens > 0 and estimated.usage.output_tokens > 0
    reported = Completion(content="4", usage=Usage(input_tokens=1, output_tokens=1))
    assert with_estimated_usage(reported, prompt, ()) is reported


@pytest.mark.parametrize(
    ("message", "wire"),
    [
        (ChatMessage.user("hi", name="ada"), {"role": "user", "content": "hi", "name": "ada"}),
        (
            ChatMessage(role="tool", content=None, tool_call_id="c1"),
            {"role": "tool", "content": "", "tool_call_id": "c1"},
        ),
        (
            ChatMessage(role="assistant", content=None, tool_calls=(ToolCall("c1", "f", "{}"),)),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
        ),
    ],
)
def test_messages_on_the_wire(message: ChatMessage, wire: dict[str, Any]) -> None:
    assert to_openai_message(message) == wire
