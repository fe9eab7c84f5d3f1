"""ScriptedModelClient: a real ModelClient for users' tests (scripted answers, recorded
requests), driving the same LLMAgent."""

from __future__ import annotations

import pytest

from agent_runner.errors import ModelClientError
from agent_runner.llm import (
    ChatMessage,
    Completion,
    LLMAgent,
    ModelClient,
    ModelRequest,
    ScriptedModelClient,
    ToolCall,
    Usage,
)
from tests.llm.support import RecordingMeter, make_context, message


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_it_is_a_model_client() -> None:
    assert isinstance(ScriptedModelClient(), ModelClient)


async def test_a_tool_loop_with_recorded_requests() -> None:
    client = ScriptedModelClient(
        [ToolCall.of("add", {"a": 2, "b": 2}, id="c1"), "2 + 2 = 4"], model="gpt-test"
    )
    agent = LLMAgent(client, system_prompt="Be exact.", tools=[add])
    meter = RecordingMeter()
    assert await agent.execute(message("2+2?"), make_context(message(), cost=meter)) == "2 + 2 = 4"
    first, second = client.requests
    assert first.messages[0] == ChatMessage.system("Be exact.")
    assert first.messages[-1].content == "2+2?"
    assert [t.name for t in first.tools] == ["add"]
    assert second.messages[-1] == ChatMessage.tool("c1", "4", name="add")
    assert [model for model, _, _ in meter.records] == ["gpt-test", "gpt-test"]
    assert all(i > 0 and o > 0 for _, i, o in meter.records)  # estimated usage is priced too
    assert client.remaining == 0


async def test_items_completions_errors_and_functions() -> None:
    def echo_last(request: ModelRequest) -> str:
        return f"you said {request.messages[-1].content}"

    client = ScriptedModelClient(
        [
            Completion(content="exact", usage=Usage(input_tokens=3, output_tokens=1)),
            [ToolCall.of("a"), ToolCall.of("b")],
            ModelClientError("endpoint down"),
            echo_last,
        ]
    )
    prompt = [ChatMessage.user("hello")]
    assert (await client.complete(prompt)).usage == Usage(input_tokens=3, output_tokens=1)
    two = await client.complete(prompt)
    assert [c.name for c in two.tool_calls] == ["a", "b"] and two.finish_reason == "tool_calls"
    with pytest.raises(ModelClientError, match="endpoint down"):
        await client.complete(prompt)
    assert (await client.complete(prompt)).content == "you said hello"
    with pytest.raises(ModelClientError, match="used up after 4 calls"):
        await client.complete(prompt)


async def test_default_answer_and_streaming() -> None:
    client = ScriptedModelClient(default="same old answer")
    pieces: list[str] = []

    async def on_text(piece: str) -> None:
        pieces.append(piece)

    for _ in range(2):
        completion = await client.complete([ChatMessage.user("x")], on_text=on_text)
        assert completion.content == "same old answer"
    assert pieces == ["same ", "old ", "answer"] * 2
    assert all(request.stream for request in client.requests)
    await client.close()
    assert client.closed
