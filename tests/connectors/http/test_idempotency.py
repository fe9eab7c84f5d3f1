"""Idempotency like Stripe's, and agent failures as 5xx JSON, on a real port with the runner.

- the same id with the same body is a retry: answered from what is known (the same replies);
- the same id with a different body is refused with 422 ``idempotency_key_reused``;
- an agent that raises (or times out) answers 500 (504) with the configured error text, on
  ``/v1/messages`` and on ``/v1/chat/completions`` (the official ``openai`` client raises it).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest

from agent_runner import AgentContext, Message
from connectors.http import HTTPConnector
from tests.connectors._web_fixtures import Recorder, running


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


async def post(
    client: aiohttp.ClientSession, url: str, body: Any, **kw: Any
) -> tuple[int, dict[str, Any]]:
    async with client.post(url, json=body, **kw) as resp:
        assert resp.content_type == "application/json"
        return resp.status, json.loads(await resp.text())


async def test_same_id_same_body_is_a_retry_and_a_different_body_is_refused(
    client: aiohttp.ClientSession,
) -> None:
    agent = Recorder()
    http = HTTPConnector(port=0)
    async with running([http], [http], agent):
        url = f"{http.url}/v1/messages"
        body = {"id": "pay-1", "text": "charge 10", "metadata": {"b": 1, "a": 2}}
        first = await post(client, url, body)
        reordered = {"metadata": {"a": 2, "b": 1}, "text": "charge 10", "id": "pay-1"}
        assert await post(client, url, reordered) == first
        assert first[0] == 200 and first[1]["replies"] == [{"text": "echo: charge 10"}]
        status, error = await post(client, url, {"id": "pay-1", "text": "charge 99"})
        assert status == 422
        assert error["error"]["code"] == "idempotency_key_reused"
        assert "'pay-1' was used before with a different body" in error["error"]["message"]

        chat = f"{http.url}/v1/chat/completions"
        ask = {"messages": [{"role": "user", "content": "hi"}]}
        headers = {"Idempotency-Key": "chat-1"}
        once = await post(client, chat, ask, headers=headers)
        assert once[0] == 200
        again = await post(client, chat, ask, headers=headers)
        assert again[1]["choices"] == once[1]["choices"]
        other = {"messages": [{"role": "user", "content": "bye"}]}
        status, error = await post(client, chat, other, headers=headers)
        assert status == 422 and error["error"]["code"] == "idempotency_key_reused"
    assert [m.text for m in agent.seen] == ["charge 10", "hi"]


async def test_an_agent_failure_is_a_5xx_with_the_configured_text(
    client: aiohttp.ClientSession,
) -> None:
    async def agent(message: Message, context: AgentContext) -> str:
        if message.text == "slow":
            await asyncio.Event().wait()  # never answers: the runner's agent_timeout ends it
        raise RuntimeError("the agent broke")

    http = HTTPConnector(port=0)
    options = {"error_reply": "Sorry, that failed.", "agent_timeout": 0.2}
    async with running([http], [http], agent, **options):
        status, body = await post(client, f"{http.url}/v1/messages", {"text": "hi"})
        assert status == 500
        assert body["error"] == {
            "code": "agent_error",
            "type": "server_error",
            "message": "Sorry, that failed.",
        }
        status, body = await post(client, f"{http.url}/v1/messages", {"text": "slow"})
        assert status == 504 and body["error"]["code"] == "agent_timeout"
        assert body["error"]["message"] == "Sorry, that failed."

        model = openai.AsyncOpenAI(base_url=f"{http.url}/v1", api_key="x", max_retries=0)
        try:
            with pytest.raises(openai.InternalServerError) as raised:
                await model.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "hi"}]
                )
            assert raised.value.status_code == 500
            assert "Sorry, that failed." in str(raised.value)
            stream = await model.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            with pytest.raises(openai.APIError, match="Sorry, that failed."):
                async for _ in stream:
                    pass
        finally:
            await model.close()
