"""Fixtures: the local OpenAI-compatible server and a real OpenAIClient pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agent_runner.llm import OpenAIClient, RetryPolicy
from tests.llm.openai_server import OpenAIServer
from tests.llm.support import Sleeps


@pytest.fixture
async def server() -> AsyncIterator[OpenAIServer]:
    async with OpenAIServer() as running:
        yield running


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(server: OpenAIServer, sleeps: Sleeps) -> AsyncIterator[OpenAIClient]:
    async with OpenAIClient(
        model="test-model",
        base_url=server.base_url,
        api_key=server.api_key,
        timeout=5.0,
        max_retries=3,
        retry=RetryPolicy(base=0.5, cap=4.0, jitter="equal", max_retry_after=30.0),
        sleep=sleeps,
    ) as opened:
        yield opened
