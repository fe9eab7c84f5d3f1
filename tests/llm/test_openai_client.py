"""The real OpenAIClient against the local OpenAI-compatible server, over HTTP."""

from __future__ import annotations

import asyncio

import pytest

from agent_runner.errors import ConfigurationError, ModelClientError
from agent_runner.llm import (
    ChatMessage,
    ModelResponseError,
    OpenAIClient,
    Tool,
    ToolCall,
    Usage,
)
from tests.llm.openai_server import Answer, OpenAIServer, calls, error, text
from tests.llm.support import Sleeps

PROMPT = [ChatMessage.system("Be brief."), ChatMessage.user("What is 2 + 2?", name="ada")]


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def test_completion_with_usage_and_the_wire_format(
    server: OpenAIServer, client: OpenAIClient
) -> None:
    server.script(text("4", usage=(21, 1)))
    completion = await client.complete(PROMPT, max_output_tokens=50)
    assert completion.content == "4" and completion.tool_calls == ()
    assert completion.usage == Usage(input_tokens=21, output_tokens=1)
    assert completion.finish_reason == "stop" and completion.model == "test-model"
    body = server.requests[0]
    assert body["model"] == "test-model" and body["max_tokens"] == 50
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2 + 2?", "name": "ada"},
    ]
    assert "tools" not in body and "stream" not in body
    assert server.headers[0]["Authorization"] == "Bearer test-key"


async def test_tool_schemas_are_sent_and_calls_parsed(
    server: OpenAIServer, client: OpenAIClient
) -> None:
    server.script(calls(("add", {"a": 2, "b": 2}), ("add", '{"a": 1')))
    completion = await client.complete(PROMPT, tools=[Tool(add).definition])
    assert [c.name for c in completion.tool_calls] == ["add", "add"]
    assert completion.tool_calls[0].arguments == '{"a": 2, "b": 2}'
    assert completion.tool_calls[1].arguments == '{"a": 1'  # kept raw, even when invalid
    assert completion.finish_reason == "tool_calls" and completion.content is None
    assert server.requests[0]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add two integers.",
                "parameters": {
                    "type": "object",
                    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                    "required": ["a", "b"],
                },
            },
        }
    ]


async def test_tool_results_go_back_in_the_wire_format(
    server: OpenAIServer, client: OpenAIClient
) -> None:
    server.script(text("done"))
    call = ToolCall.of("add", {"a": 1, "b": 2}, id="call_9")
    prompt = [
        *PROMPT,
        ChatMessage.assistant(None, tool_calls=[call]),
        ChatMessage.tool("call_9", "3", name="add"),
    ]
    await client.complete(prompt, tools=[Tool(add).definition], tool_choice="none")
    body = server.requests[0]
    assert body["tool_choice"] == "none"
    assert body["messages"][2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
                }
            ],
        },
        {"role": "tool", "content": "3", "tool_call_id": "call_9"},
    ]


async def test_missing_usage_is_estimated(server: OpenAIServer, client: OpenAIClient) -> None:
    server.script(text("four, I think", usage=None))
    completion = await client.complete(PROMPT)
    assert completion.usage.estimated
    assert completion.usage.input_tokens > 5 and completion.usage.output_tokens >= 3


async def test_429_with_retry_after_is_waited_out(
    server: OpenAIServer, client: OpenAIClient, sleeps: Sleeps
) -> None:
    server.script(error(429, "slow down", **{"Retry-After": "7"}), text("4"))
    completion = await client.complete(PROMPT)
    assert completion.content == "4"
    assert sleeps.delays == [7.0]  # the server's wait, not our backoff
    assert len(server.requests) == 2


async def test_429_with_a_tiny_real_retry_after() -> None:
    async with OpenAIServer() as server:
        server.script(error(429, **{"retry-after-ms": "20"}), text("ok"))
        async with OpenAIClient(
            model="m", base_url=server.base_url, api_key=server.api_key
        ) as client:
            assert (await client.complete(PROMPT)).content == "ok"
        assert len(server.requests) == 2


async def test_5xx_is_retried_with_backoff_then_succeeds(
    server: OpenAIServer, client: OpenAIClient, sleeps: Sleeps
) -> None:
    server.script(error(500), error(503), text("4"))
    assert (await client.complete(PROMPT)).content == "4"
    assert len(sleeps.delays) == 2
    assert 0.25 <= sleeps.delays[0] < 0.5 and 0.5 <= sleeps.delays[1] < 1.0  # jittered


async def test_retries_are_capped(
    server: OpenAIServer, client: OpenAIClient, sleeps: Sleeps
) -> None:
    server.default = error(502, "bad gateway")
    with pytest.raises(ModelClientError) as caught:
        await client.complete(PROMPT)
    assert isinstance(caught.value, ModelResponseError)
    assert caught.value.status_code == 502 and caught.value.attempts == 4
    assert "bad gateway" in str(caught.value) and "gave up after 4 attempts" in str(caught.value)
    assert len(server.requests) == 4 and len(sleeps.delays) == 3


async def test_a_retry_after_over_the_cap_fails_at_once(
    server: OpenAIServer, client: OpenAIClient, sleeps: Sleeps
) -> None:
    server.script(error(429, "daily quota", **{"Retry-After": "3600"}))
    with pytest.raises(ModelResponseError) as caught:
        await client.complete(PROMPT)
    assert caught.value.retry_after == 3600.0 and caught.value.status_code == 429
    assert sleeps.delays == [] and len(server.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_client_errors_are_not_retried(
    server: OpenAIServer, client: OpenAIClient, sleeps: Sleeps, status: int
) -> None:
    server.script(error(status, "nope"))
    with pytest.raises(ModelResponseError) as caught:
        await client.complete(PROMPT)
    assert caught.value.status_code == status and "not retryable" in str(caught.value)
    assert sleeps.delays == []


async def test_a_wrong_key_is_a_clear_error(server: OpenAIServer) -> None:
    async with OpenAIClient(model="m", base_url=server.base_url, api_key="wrong") as client:
        with pytest.raises(ModelResponseError, match="401 Incorrect API key"):
            await client.complete(PROMPT)
    assert "wrong" not in str(server.rejected)  # the server saw it; our error text does not


async def test_a_call_that_hangs_times_out_and_is_retried(server: OpenAIServer) -> None:
    sleeps = Sleeps()
    server.script(Answer(hang=True), text("late but fine"))
    async with OpenAIClient(
        model="m", base_url=server.base_url, api_key=server.api_key, timeout=0.2, sleep=sleeps
    ) as client:
        assert (await client.complete(PROMPT)).content == "late but fine"
    assert len(sleeps.delays) == 1


async def test_connection_refused_is_retried_then_fails() -> None:
    async with OpenAIServer() as server:
        base_url = server.base_url
    sleeps = Sleeps()
    async with OpenAIClient(model="m", base_url=base_url, max_retries=2, sleep=sleeps) as client:
        with pytest.raises(ModelResponseError, match="connection failed") as caught:
            await client.complete(PROMPT)
    assert caught.value.status_code is None and caught.value.attempts == 3
    assert len(sleeps.delays) == 2


async def test_streaming_forwards_chunks_as_they_arrive(
    server: OpenAIServer, client: OpenAIClient
) -> None:
    gate = asyncio.Event()
    server.script(Answer(content="The answer is four.", usage=(30, 6), gate=gate))
    pieces: list[str] = []

    async def on_text(piece: str) -> None:
        pieces.append(piece)
        gate.set()  # the server sends the rest only once the first piece got here

    completion = await client.complete(PROMPT, on_text=on_text)
    assert pieces == ["The ", "answ", "er i", "s fo", "ur."]
    assert completion.content == "The answer is four."
    assert completion.usage == Usage(input_tokens=30, output_tokens=6)
    body = server.requests[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


async def test_streamed_tool_calls_are_assembled(
    server: OpenAIServer, client: OpenAIClient
) -> None:
    server.script(calls(("add", {"a": 20, "b": 22}), ("add", {"a": 1, "b": 1})))
    pieces: list[str] = []

    async def on_text(piece: str) -> None:
        pieces.append(piece)

    completion = await client.complete(PROMPT, tools=[Tool(add).definition], on_text=on_text)
    assert pieces == []
    assert [(c.name, c.arguments) for c in completion.tool_calls] == [
        ("add", '{"a": 20, "b": 22}'),
        ("add", '{"a": 1, "b": 1}'),
    ]
    assert all(c.id.startswith("call_") for c in completion.tool_calls)
    assert completion.finish_reason == "tool_calls"


async def test_a_stream_that_fails_before_any_text_is_retried(
    server: OpenAIServer, client: OpenAIClient, sleeps: Sleeps
) -> None:
    server.script(error(503), text("fine"))
    pieces: list[str] = []

    async def on_text(piece: str) -> None:
        pieces.append(piece)

    assert (await client.complete(PROMPT, on_text=on_text)).content == "fine"
    assert "".join(pieces) == "fine" and len(sleeps.delays) == 1


def test_configuration() -> None:
    with pytest.raises(ConfigurationError):
        OpenAIClient(model="")
    with pytest.raises(ValueError):
        OpenAIClient(model="m", base_url="http://127.0.0.1:1/v1", timeout=0)


async def test_a_stream_cut_after_some_text_is_not_retried(
    server: OpenAIServer, client: OpenAIClient, sleeps: Sleeps
) -> None:
    server.script(Answer(content="Hello there, partial answer", cut=True), text("unused"))
    pieces: list[str] = []

    async def on_text(piece: str) -> None:
        pieces.append(piece)

    with pytest.raises(ModelResponseError, match="partly streamed already"):
        await client.complete(PROMPT, on_text=on_text)
    assert pieces == ["Hell"]  # shown once, never repeated by a retry
    assert sleeps.delays == [] and len(server.requests) == 1
