"""Helpers for the Telegram tests: a connector pointed at the fake, a running bot."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

from agent_runner import AgentContext, AgentRuntime, Message
from agent_runner.store import InMemoryStore, Store
from agent_runner.testing.telegram import FakeTelegram
from connectors.telegram import TelegramConnector, TelegramSettings


async def echo(message: Message, context: AgentContext) -> str:
    return f"echo: {message.text}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connector_for(fake: FakeTelegram, **options: Any) -> TelegramConnector:
    """A connector pointed at the fake, its settings isolated from the environment."""
    options.setdefault("poll_timeout", 1)
    options.setdefault("typing_delay", 0.0)
    return TelegramConnector(
        token=fake.token,
        api_base=fake.url,
        settings=TelegramSettings.model_construct(),
        **options,
    )


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeTelegram,
    agent: Any = echo,
    *,
    store: Store | None = None,
    runner: dict[str, Any] | None = None,
    **options: Any,
) -> AsyncIterator[TelegramConnector]:
    """The runner with a Telegram connector as input and output, until the block ends."""
    connector = connector_for(fake, **options)
    runtime = AgentRuntime(
        [connector],
        [connector],
        agent,
        store=store if store is not None else InMemoryStore(),
        handle_signals=False,
        retry_base_delay=0.01,
        retry_max_delay=1.0,
        **(runner or {}),
    )
    task = asyncio.ensure_future(runtime.run())
    try:
        await runtime.wait_started()
        yield connector
    finally:
        await runtime.stop()
        await task
