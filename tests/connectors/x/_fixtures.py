"""Fixtures for the X tests: a running fake X, connectors pointed at it, a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from agent_runner import AgentContext, AgentInput, AgentRuntime
from agent_runner.backoff import RetryPolicy
from agent_runner.connector import Accepted
from agent_runner.message import Message
from agent_runner.store import InMemoryStore, Store
from agent_runner.testing.x import FakeX
from connectors.x import XConnector
from connectors.x.ratelimit import DEFAULT_RETRY


def x_retry(**changes: Any) -> RetryPolicy:
    """X's default retry policy with some fields changed."""
    return dataclasses.replace(DEFAULT_RETRY, **changes)


class FakeClock:
    """A clock whose ``sleep`` returns at once and moves time forward; records each wait."""

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class RecordingSink:
    """A sink that accepts everything (the runner's sink, minus the runner)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Any, /) -> Accepted:
        message = Message.parse(message)
        duplicate = any(m.key == message.key for m in self.messages)
        if not duplicate:
            self.messages.append(message)
        return Accepted(message.key, duplicate=duplicate)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake_x(clock: FakeClock) -> AsyncIterator[FakeX]:
    async with FakeX(clock=clock) as fake:
        yield fake


def connector(fake: FakeX, clock: FakeClock, **overrides: Any) -> XConnector:
    """An XConnector on ``fake`` with the fake clock; ``overrides`` as XConnector kwargs."""
    options: dict[str, Any] = {"poll_interval": 0.02, "clock": clock, "sleep": clock.sleep}
    options.update(overrides)
    return XConnector.from_env(fake.env(), **options)


async def answer(message: Message, context: AgentContext) -> str:
    return f"you said: {message.text}"


@contextlib.asynccontextmanager
async def running(
    x: XConnector,
    agent: Any = answer,
    *,
    store: Store | None = None,
    inputs: Sequence[AgentInput] = (),
    routes: dict[str, list[str]] | None = None,
) -> AsyncIterator[AgentRuntime]:
    """Run a bot with ``x`` as input and output until the block ends."""
    runtime = AgentRuntime(
        [x, *inputs],
        [x],
        agent,
        store=store if store is not None else InMemoryStore(),
        routes=routes,
        handle_signals=False,
        retry_base_delay=0.01,
        retry_max_delay=0.05,
    )
    task = asyncio.create_task(runtime.run())
    started = asyncio.create_task(runtime.wait_started())
    await asyncio.wait({task, started}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        started.cancel()
        task.result()
    try:
        yield runtime
    finally:
        await runtime.stop()
        await asyncio.wait_for(task, 10)


async def settle(fake: FakeX, polls: int = 3) -> None:
    """Let the bot poll a few more times (a duplicate reply would show up by then)."""
    await fake.wait_calls("mentions", fake.calls("mentions") + polls)
    await asyncio.sleep(0.05)


__all__ = [
    "FakeClock",
    "RecordingSink",
    "answer",
    "clock",
    "connector",
    "fake_x",
    "running",
    "settle",
]
