"""LLMAgent over the real OpenAIClient and the local server, with a hand-built AgentContext."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent_runner import Agent, Attachment, Author, MemoryItem, Message
from agent_runner.errors import BudgetExceededError, ModelClientError
from agent_runner.llm import DEFAULT_LIMIT_REPLY, LIMIT_NOTE, LLMAgent, OpenAIClient
from tests.llm.openai_server import Answer, Body, OpenAIServer, calls, text
from tests.llm.support import ListMemory, RecordingMeter, make_context, message


def multiply(a: float, b: float) -> float:
    """Multiply two numbers.

    Args:
        a: the first factor.
        b: the second factor.
    """
    return a * b


async def lookup(city: str) -> dict[str, Any]:
    """Look up a city's population."""
    await asyncio.sleep(0)
    return {"city": city, "population": 2_100_000}


def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"boom: {reason}")


@pytest.fixture
async def agent(client: OpenAIClient) -> AsyncIterator[LLMAgent]:
    yield LLMAgent(
        client,
        system_prompt="You are a test bot.",
        tools=[multiply, lookup, explode],
        include_author_names=True,
    )


def tool_messages(body: Body) -> list[Body]:
    return [m for m in body["messages"] if m["role"] == "tool"]


async def test_a_tool_loop_that_ends(server: OpenAIServer, agent: LLMAgent) -> None:
    server.script(
        calls(("multiply", {"a": 6, "b": 7}), ("lookup", {"city": "Paris"})),  # sync + async
        calls(("multiply", {"a": 42, "b": 2})),
        text("84, and Paris has 2.1 million people."),
    )
    reply = await agent.execute(message("6*7*2? and Paris?"), make_context(message("x")))
    assert reply == "84, and Paris has 2.1 million people."
    assert len(server.requests) == 3
    first, second, third = server.requests
    assert [t["function"]["name"] for t in first["tools"]] == ["multiply", "lookup", "explode"]
    assert first["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {
            "a": {"type": "number", "description": "the first factor."},
            "b": {"type": "number", "description": "the second factor."},
        },
        "required": ["a", "b"],
    }
    assert [m["content"] for m in tool_messages(second)] == [
        "42.0",
        '{"city":"Paris","population":2100000}',
    ]
    assert [m["content"] for m in tool_messages(third)][-1] == "84.0"
    assert "tool_choice" not in third  # the model was never forced


async def test_parallel_tool_calls_run_concurrently(
    server: OpenAIServer, client: OpenAIClient
) -> None:
    arrived = {"a": asyncio.Event(), "b": asyncio.Event()}

    async def meet(name: str) -> str:
        """Wait for the other call (only possible if both run at once)."""
        arrived[name].set()
        other = "b" if name == "a" else "a"
        await asyncio.wait_for(arrived[other].wait(), 2)
        return f"{name} met {other}"

    agent = LLMAgent(client, system_prompt="s", tools=[meet])
    server.script(calls(("meet", {"name": "a"}), ("meet", {"name": "b"})), text("done"))
    assert await agent.execute(message(), make_context(message())) == "done"
    assert [m["content"] for m in tool_messages(server.requests[1])] == ["a met b", "b met a"]


async def test_the_step_cap_stops_a_model_that_never_stops(
    server: OpenAIServer, client: OpenAIClient
) -> None:
    agent = LLMAgent(client, system_prompt="s", tools=[multiply], max_steps=3)
    server.default = calls(("multiply", {"a": 1, "b": 1}))  # ignores tool_choice="none" too
    reply = await agent.execute(message("loop"), make_context(message("loop")))
    assert reply == DEFAULT_LIMIT_REPLY
    assert len(server.requests) == 3
    last = server.requests[-1]
    assert last["tool_choice"] == "none"
    assert last["messages"][-1] == {"role": "system", "content": LIMIT_NOTE}
    assert all("tool_choice" not in body for body in server.requests[:-1])


async def test_at_the_step_cap_the_model_is_asked_for_a_final_answer(
    server: OpenAIServer, client: OpenAIClient
) -> None:
    def answer(body: Body) -> Answer:
        if body.get("tool_choice") == "none":
            return text("Best I can say: 1.")
        return calls(("multiply", {"a": 1, "b": 1}))

    agent = LLMAgent(client, system_prompt="s", tools=[multiply], max_steps=2)
    server.default = answer
    assert await agent.execute(message(), make_context(message())) == "Best I can say: 1."
    assert len(server.requests) == 2


async def test_the_tool_call_cap_refuses_extra_calls(
    server: OpenAIServer, client: OpenAIClient
) -> None:
    agent = LLMAgent(client, system_prompt="s", tools=[multiply], max_tool_calls=2)
    server.script(
        calls(*[("multiply", {"a": n, "b": 2}) for n in range(3)]),
        text("0, 2 and I could not do the third."),
    )
    reply = await agent.execute(message(), make_context(message()))
    assert reply == "0, 2 and I could not do the third."
    results = [m["content"] for m in tool_messages(server.requests[1])]
    assert results[:2] == ["0.0", "2.0"]
    assert results[2].startswith("Error: not run: the limit of 2 tool calls")
    assert server.requests[1]["tool_choice"] == "none"


async def test_tool_errors_go_back_to_the_model(server: OpenAIServer, agent: LLMAgent) -> None:
    server.script(
        calls(
            ("explode", {"reason": "disk full"}),
            ("nosuch", {}),
            ("multiply", '{"a": 1, "b"'),
            ("multiply", {"a": "x", "b": 1}),
        ),
        text("Sorry, the tools failed."),
    )
    reply = await agent.execute(message(), make_context(message()))
    assert reply == "Sorry, the tools failed."
    results = [m["content"] for m in tool_messages(server.requests[1])]
    assert results[0] == "Error: RuntimeError: boom: disk full"
    assert results[1].startswith("Error: there is no tool named 'nosuch'")
    assert "explode, lookup, multiply" in results[1]
    assert results[2].startswith("Error: arguments are not valid JSON")
    assert results[3].startswith("Error: invalid arguments: a: Input should be a valid number")


async def test_a_slow_tool_times_out_as_a_result(
    server: OpenAIServer, client: OpenAIClient
) -> None:
    async def stuck() -> str:
        """Never returns."""
        await asyncio.Event().wait()
        return "never"

    agent = LLMAgent(client, system_prompt="s", tools=[stuck], tool_timeout=0.05)
    server.script(calls(("stuck", {})), text("it timed out"))
    assert await agent.execute(message(), make_context(message())) == "it timed out"
    assert tool_messages(server.requests[1])[0]["content"] == (
        "Error: the tool did not finish within 0.05 s."
    )


async def test_the_prompt_has_this_conversations_memory(
    server: OpenAIServer, agent: LLMAgent
) -> None:
    memory = ListMemory(
        "test:c1",
        [
            MemoryItem(role="user", text="My name is Ada.", name="ada"),
            MemoryItem(role="assistant", text="Hello Ada!"),
            MemoryItem(role="tool", text="42", name="multiply"),
            MemoryItem(role="system", text="The user is a regular."),
        ],
    )
    server.script(text("Your name is Ada."))
    msg = message("What is my name?")
    assert await agent.execute(msg, make_context(msg, memory=memory)) == "Your name is Ada."
    assert server.requests[0]["messages"] == [
        {"role": "system", "content": "You are a test bot."},
        {"role": "user", "content": "My name is Ada.", "name": "ada"},
        {"role": "assistant", "content": "Hello Ada!"},
        {"role": "system", "content": "[multiply result] 42"},
        {"role": "system", "content": "The user is a regular."},
        {"role": "user", "content": "What is my name?", "name": "ada"},
    ]


async def test_every_call_is_checked_then_recorded(
    server: OpenAIServer, client: OpenAIClient
) -> None:
    agent = LLMAgent(
        client, system_prompt="s", tools=[multiply], max_output_tokens=200, model_name="priced"
    )
    server.script(calls(("multiply", {"a": 2, "b": 3}), usage=(100, 20)), text("6", usage=(150, 2)))
    meter = RecordingMeter()
    assert await agent.execute(message(), make_context(message(), cost=meter)) == "6"
    assert meter.records == [("priced", 100, 20), ("priced", 150, 2)]
    assert [(m, out) for m, _, out in meter.checks] == [("priced", 200), ("priced", 200)]
    first_estimate, second_estimate = meter.checks[0][1], meter.checks[1][1]
    assert 20 < first_estimate < second_estimate  # the second prompt holds the tool result
    assert server.requests[0]["max_tokens"] == 200


async def test_a_budget_refuses_the_next_call(server: OpenAIServer, client: OpenAIClient) -> None:
    agent = LLMAgent(client, system_prompt="s", tools=[multiply], max_output_tokens=100)
    server.script(calls(("multiply", {"a": 2, "b": 3}), usage=(400, 50)), text("6"))
    meter = RecordingMeter(price=0.001, limit=0.6)  # the first call costs 0.45
    with pytest.raises(BudgetExceededError):
        await agent.execute(message(), make_context(message(), cost=meter))
    assert len(server.requests) == 1  # refused before the second call was made
    assert meter.records == [("test-model", 400, 50)]
    assert meter.spent == pytest.approx(0.45)


async def test_the_final_answer_is_streamed(server: OpenAIServer, agent: LLMAgent) -> None:
    server.script(
        calls(("multiply", {"a": 6, "b": 7})),
        Answer(content="It is 42, of course.", usage=(50, 7)),
    )
    chunks: list[str] = []

    async def stream(chunk: str) -> None:
        chunks.append(chunk)

    meter = RecordingMeter()
    msg = message("6*7?")
    reply = await agent.execute(msg, make_context(msg, cost=meter, stream=stream))
    assert reply == "It is 42, of course."
    assert "".join(chunks) == reply and len(chunks) > 1
    assert all(body["stream"] for body in server.requests)
    assert meter.records[-1] == ("test-model", 50, 7)  # usage from the stream's last chunk


async def test_a_failing_stream_does_not_lose_the_answer(
    server: OpenAIServer, agent: LLMAgent
) -> None:
    server.script(text("All good here."))

    async def broken(chunk: str) -> None:
        raise ConnectionResetError("client went away")

    reply = await agent.execute(message(), make_context(message(), stream=broken))
    assert reply == "All good here."


async def test_the_whole_message_times_out(server: OpenAIServer, client: OpenAIClient) -> None:
    agent = LLMAgent(client, system_prompt="s", timeout=0.1)
    server.script(Answer(hang=True))
    with pytest.raises(ModelClientError, match="did not answer within 0.1 s"):
        await agent.execute(message(), make_context(message()))


def test_tool_names_must_be_unique(client: OpenAIClient) -> None:
    with pytest.raises(ValueError, match="two tools"):
        LLMAgent(client, system_prompt="s", tools=[multiply, multiply])


async def test_long_tool_results_are_cut(server: OpenAIServer, client: OpenAIClient) -> None:
    def big() -> str:
        """A lot of text."""
        return "x" * 500

    agent = LLMAgent(client, system_prompt="s", tools=[big], max_tool_result_chars=100)
    server.script(calls(("big", {})), text("ok"))
    await agent.execute(message(), make_context(message()))
    content = tool_messages(server.requests[1])[0]["content"]
    assert content.startswith("x" * 100) and content.endswith("[... 400 more characters cut]")
    assert json.dumps(server.requests[1]).count("x" * 101) == 0


async def test_it_is_the_runners_agent_and_sees_attachments(
    server: OpenAIServer, agent: LLMAgent
) -> None:
    assert isinstance(agent, Agent)
    msg = Message(
        id="m1",
        conversation_id="c1",
        source="test",
        author=Author(id="u1"),
        text="What is this?",
        attachments=(
            Attachment(url="https://cdn/x.png", filename="x.png", content_type="image/png"),
        ),
    )
    server.script(text("A picture."))
    assert await agent.execute(msg, make_context(msg)) == "A picture."
    assert server.requests[0]["messages"][-1] == {
        "role": "user",
        "content": "What is this?\n[attachment: x.png (image/png) https://cdn/x.png]",
        "name": "u1",
    }


async def test_servers_that_send_arguments_as_objects_or_no_ids(
    server: OpenAIServer, agent: LLMAgent
) -> None:
    server.script(Answer(calls=[("multiply", {"a": 2, "b": 5})], loose_calls=True), text("10"))
    assert await agent.execute(message(), make_context(message())) == "10"
    assert tool_messages(server.requests[1])[0] == {
        "role": "tool",
        "content": "10.0",
        "tool_call_id": "call_0",
    }
