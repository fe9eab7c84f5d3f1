"""/v1/chat/completions and /v1/models with the official ``openai`` client, sync and streaming.

The agent answers with what its memory holds, so each test shows which turns it saw: the
history in ``messages`` for a stateless client, the runner's memory for a named conversation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import openai
import pytest

from agent_runner import AgentContext, Message
from agent_runner.memory import ShortTermMemory
from agent_runner.pricing import ModelPrice, Pricing
from connectors.http import HTTPConnector
from tests.connectors._web_fixtures import running


async def remembering(message: Message, context: AgentContext) -> str:
    earlier = [f"{m.role}:{m.text}" for m in context.memory.messages]
    return f"{message.text} after {earlier}"


@pytest.fixture
async def http() -> AsyncIterator[HTTPConnector]:
    connector = HTTPConnector(port=0, model_name="my-agent")
    async with running([connector], [connector], remembering, short_term_memory=ShortTermMemory()):
        yield connector


def chat(*turns: str) -> list[dict[str, str]]:
    roles = ("user", "assistant")
    return [{"role": roles[n % 2], "content": t} for n, t in enumerate(turns)]  # type: ignore[misc]


async def test_a_stateless_client_is_answered_with_its_history(http: HTTPConnector) -> None:
    def call() -> str | None:  # the sync client, in a thread
        with openai.OpenAI(base_url=f"{http.url}/v1", api_key="x", max_retries=0) as client:
            messages = [{"role": "system", "content": "be brief"}, *chat("a", "b", "c", "d", "e")]
            answer = client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
            assert answer.usage is not None and answer.usage.total_tokens > 0
            assert answer.usage.total_tokens == (
                answer.usage.prompt_tokens + answer.usage.completion_tokens
            )
            return answer.choices[0].message.content

    text = await asyncio.to_thread(call)
    assert text == "e after ['system:be brief', 'user:a', 'assistant:b', 'user:c', 'assistant:d']"


async def test_a_named_conversation_uses_the_runner_memory(http: HTTPConnector) -> None:
    async with openai.AsyncOpenAI(base_url=f"{http.url}/v1", api_key="x", max_retries=0) as ai:
        first = await ai.chat.completions.create(model="m", messages=chat("one"), user="bob")
        assert first.choices[0].message.content == "one after []"
        # the client resends the chat; the memory already holds it, so it is not doubled
        again = await ai.chat.completions.create(
            model="m",
            messages=chat("one", "one after []", "two"),
            extra_headers={"X-Conversation-Id": "bob"},
        )
    assert again.choices[0].message.content == "two after ['user:one', 'assistant:one after []']"


async def test_streaming_with_include_usage(http: HTTPConnector) -> None:
    async with openai.AsyncOpenAI(base_url=f"{http.url}/v1", api_key="x", max_retries=0) as ai:
        stream = await ai.chat.completions.create(
            model="m",
            messages=chat("x", "y", "hello"),
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "hello after ['user:x', 'assistant:y']"
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens > 0 and last.usage.prompt_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


async def test_models_lists_the_agent_and_unsupported_parameters_are_refused(
    http: HTTPConnector,
) -> None:
    async with openai.AsyncOpenAI(base_url=f"{http.url}/v1", api_key="x", max_retries=0) as ai:
        models = await ai.models.list()
        assert [m.id for m in models.data] == ["my-agent"]
        for extra, reason in [
            ({"n": 2}, "n must be 1"),
            ({"logprobs": True}, "logprobs are not available"),
            ({"response_format": {"type": "json_object"}}, "response_format must be text"),
            (
                {"tools": [{"type": "function", "function": {"name": "f"}}]},
                "tools/functions are not supported",
            ),
        ]:
            with pytest.raises(openai.BadRequestError, match=reason) as raised:
                await ai.chat.completions.create(model="m", messages=chat("hi"), **extra)  # type: ignore[call-overload]
            assert raised.value.code == "unsupported_parameter"
        ignored = await ai.chat.completions.create(
            model="m", messages=chat("hi"), temperature=0.2, max_tokens=5, seed=1, n=1
        )
    assert ignored.choices[0].message.content == "hi after []"


async def test_usage_is_what_the_pricing_meter_recorded() -> None:
    async def metered(message: Message, context: AgentContext) -> str:
        await context.cost.record("m", input_tokens=11, output_tokens=7)
        await context.cost.record("m", input_tokens=5, output_tokens=2)
        return "priced"

    http = HTTPConnector(port=0)
    pricing = Pricing(prices={"m": ModelPrice(input_per_million=1.0, output_per_million=2.0)})
    async with (
        running([http], [http], metered, pricing=pricing),
        openai.AsyncOpenAI(base_url=f"{http.url}/v1", api_key="x", max_retries=0) as ai,
    ):
        answer = await ai.chat.completions.create(model="m", messages=chat("hi"))
        stream = await ai.chat.completions.create(
            model="m", messages=chat("hi"), stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (16, 9)
    last = chunks[-1].usage
    assert last is not None and (last.prompt_tokens, last.completion_tokens) == (16, 9)
