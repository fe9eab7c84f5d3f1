"""LLMAgent end to end: InMemoryConnector -> AgentRuntime (memory, pricing) -> OpenAIClient ->
the local OpenAI-compatible server, and the replies back out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agent_runner.llm import LLMAgent, OpenAIClient
from agent_runner.memory import ShortTermMemory
from agent_runner.pricing import Budget, ModelPrice, Pricing
from agent_runner.store import InMemoryStore
from connectors.inmemory import InMemoryConnector
from tests.llm.openai_server import Answer, Body, OpenAIServer, calls, error, text
from tests.runner.support import make, running

PRICES = {"test-model": ModelPrice(input_per_million=1_000.0, output_per_million=2_000.0)}
"""0.001 per input token, 0.002 per output token: easy sums."""


def lookup(city: str) -> str:
    """Look up a city."""
    return f"{city} is in France."


@pytest.fixture
async def agent(client: OpenAIClient) -> AsyncIterator[LLMAgent]:
    yield LLMAgent(
        client,
        system_prompt="You are a test bot.",
        tools=[lookup],
        max_output_tokens=100,
    )


def conversation(body: Body) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in body["messages"]]


async def test_memory_of_earlier_turns_and_none_from_another_conversation(
    server: OpenAIServer, agent: LLMAgent
) -> None:
    chat = InMemoryConnector()
    server.script(text("Hello Ada!"), text("Your name is Ada."), text("I do not know."))
    runtime = make(
        [chat], [chat], agent, short_term_memory=ShortTermMemory(), store=InMemoryStore()
    )
    async with running(runtime):
        await chat.push("My name is Ada.", conversation_id="c1", author_id="ada")
        await chat.wait_for_replies(1)
        await chat.push("What is my name?", conversation_id="c1", author_id="ada")
        await chat.wait_for_replies(2)
        await chat.push("What is my name?", conversation_id="c2", author_id="bob")
        await chat.wait_for_replies(3)
    assert chat.replies_to("c1") == ["Hello Ada!", "Your name is Ada."]
    assert chat.replies_to("c2") == ["I do not know."]
    assert conversation(server.requests[1]) == [
        ("system", "You are a test bot."),
        ("user", "My name is Ada."),
        ("assistant", "Hello Ada!"),
        ("user", "What is my name?"),
    ]
    assert all("name" not in m for m in server.requests[1]["messages"])  # off by default
    assert conversation(server.requests[2]) == [  # another conversation: nothing of c1
        ("system", "You are a test bot."),
        ("user", "What is my name?"),
    ]


async def test_usage_is_priced_and_a_budget_refuses_the_next_call(
    server: OpenAIServer, agent: LLMAgent
) -> None:
    store = InMemoryStore()
    chat = InMemoryConnector()
    pricing = Pricing(prices=PRICES, budget=Budget(per_conversation=0.6))
    # the first call costs 400 * 0.001 + 50 * 0.002 = 0.5; the next could cost 0.2 more
    server.script(calls(("lookup", {"city": "Paris"}), usage=(400, 50)), text("never sent"))
    runtime = make(
        [chat], [chat], agent, short_term_memory=ShortTermMemory(), pricing=pricing, store=store
    )
    async with running(runtime):
        await chat.push("Where is Paris?", conversation_id="c1")
        [(_, reply)] = await chat.wait_for_replies(1)
        spent = await store.cost_sum(conversation_key="memory:c1")
    assert reply.text == "Sorry, I have reached my spending limit and cannot answer right now."
    assert len(server.requests) == 1  # the second call was refused before it was made
    assert spent == pytest.approx(0.5)


async def test_a_tool_loop_priced_within_budget(server: OpenAIServer, agent: LLMAgent) -> None:
    store = InMemoryStore()
    chat = InMemoryConnector()
    pricing = Pricing(prices=PRICES, budget=Budget(per_conversation=10.0))
    server.script(
        calls(("lookup", {"city": "Paris"}), usage=(100, 10)),
        text("Paris is in France.", usage=(130, 5)),
    )
    runtime = make(
        [chat], [chat], agent, short_term_memory=ShortTermMemory(), pricing=pricing, store=store
    )
    async with running(runtime):
        await chat.push("Where is Paris?", conversation_id="c1")
        [(_, reply)] = await chat.wait_for_replies(1)
        spent = await store.cost_sum(conversation_key="memory:c1")
    assert reply.text == "Paris is in France."
    assert spent == pytest.approx(0.12 + 0.14)
    assert [m["content"] for m in server.requests[1]["messages"] if m["role"] == "tool"] == [
        "Paris is in France."
    ]


async def test_the_answer_streams_to_a_streaming_output(
    server: OpenAIServer, agent: LLMAgent
) -> None:
    chat = InMemoryConnector(streaming=True)
    server.script(Answer(content="Streaming works fine.", usage=(20, 4)))
    runtime = make([chat], [chat], agent, store=InMemoryStore())
    async with running(runtime):
        await chat.push("Stream please", conversation_id="c1")
        [(_, reply)] = await chat.wait_for_replies(1)
    assert reply.text == "Streaming works fine."
    pieces = [chunk for _, chunk in chat.chunks]
    assert len(pieces) > 1 and "".join(pieces) == "Streaming works fine."
    assert server.requests[0]["stream"] is True


async def test_an_endpoint_that_keeps_failing_gets_the_error_reply(
    server: OpenAIServer, agent: LLMAgent
) -> None:
    chat = InMemoryConnector()
    server.default = error(503, "overloaded")
    runtime = make([chat], [chat], agent, store=InMemoryStore(), error_reply="model down")
    async with running(runtime):
        await chat.push("hello?", conversation_id="c1")
        [(_, reply)] = await chat.wait_for_replies(1)
    assert reply.text == "model down"
    assert len(server.requests) == 4  # the first call and three capped retries
