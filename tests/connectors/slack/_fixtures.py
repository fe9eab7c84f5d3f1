"""Helpers for the Slack tests: a connector pointed at the fake, a running bot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from agent_runner import AgentContext, AgentRuntime, Message
from agent_runner.store import InMemoryStore, Store
from agent_runner.testing.slack import FakeSlack
from connectors.slack import SlackConnector, SlackSettings


async def echo(message: Message, context: AgentContext) -> str:
    return f"echo: {message.text}"


def connector_for(fake: FakeSlack, **options: Any) -> SlackConnector:
    """A connector pointed at the fake, its settings isolated from the environment."""
    if options.get("mode") == "events":
        options.setdefault("signing_secret", fake.signing_secret)
    else:
        options.setdefault("app_token", fake.app_token)
    return SlackConnector(
        bot_token=fake.bot_token,
        api_base=fake.url,
        settings=SlackSettings.model_construct(),
        **options,
    )


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeSlack,
    agent: Any = echo,
    *,
    store: Store | None = None,
    **options: Any,
) -> AsyncIterator[SlackConnector]:
    """The runner with a Slack connector as input and output, until the block ends."""
    connector = connector_for(fake, **options)
    runtime = AgentRuntime(
        [connector],
        [connector],
        agent,
        store=store if store is not None else InMemoryStore(),
        handle_signals=False,
        retry_base_delay=0.01,
        retry_max_delay=1.0,
    )
    connections = fake.connections
    task = asyncio.ensure_future(runtime.run())
    try:
        await runtime.wait_started()
        if options.get("mode") != "events":
            await fake.wait_until(lambda: fake.connections > connections)
        else:
            await asyncio.wait_for(connector.listening.wait(), 5)
        yield connector
    finally:
        await runtime.stop()
        await task
