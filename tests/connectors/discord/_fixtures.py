"""Helpers for the Discord tests: a recording sink and a running connector."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from agent_runner.connector import Accepted
from agent_runner.message import Message
from agent_runner.store import Store
from agent_runner.testing.discord import FakeDiscord
from connectors.discord import DiscordConnector, DiscordSettings


class RecordingSink:
    """A sink like the runner's: validates, deduplicates by key, records what it accepted."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.keys: set[str] = set()
        self.duplicates = 0
        self._changed = asyncio.Event()

    async def __call__(self, data: Message | Mapping[str, Any], /) -> Accepted:
        message = Message.parse(data)
        if message.key in self.keys:
            self.duplicates += 1
            return Accepted(message.key, duplicate=True)
        self.keys.add(message.key)
        self.messages.append(message)
        self._changed.set()
        self._changed = asyncio.Event()
        return Accepted(message.key)

    async def wait_for(self, count: int, *, within: float = 5.0) -> list[Message]:
        async with asyncio.timeout(within):
            while len(self.messages) < count:
                await self._changed.wait()
        return self.messages

    def texts(self) -> list[str]:
        return [m.text for m in self.messages]


def connector_for(fake: FakeDiscord, **options: Any) -> DiscordConnector:
    """A connector pointed at the fake, its settings isolated from the environment."""
    options.setdefault("guild_ready_timeout", 0.01)
    options.setdefault("identify_delay", 0.0)
    options.setdefault("typing_delay", 0.0)
    return DiscordConnector(
        token=fake.token,
        api_base=fake.url,
        gateway_url=fake.gateway_url,
        settings=DiscordSettings.model_construct(),
        **options,
    )


@contextlib.asynccontextmanager
async def running(
    fake: FakeDiscord,
    sink: RecordingSink,
    *,
    store: Store | None = None,
    wait_ready: int | None = None,
    **options: Any,
) -> AsyncIterator[DiscordConnector]:
    """Open a connector, run its input into ``sink`` until the block ends, then close it.

    Waits until the fake has answered ``wait_ready`` IDENTIFYs (default: one more).
    """
    connector = connector_for(fake, **options)
    if store is not None:
        connector.bind_store(store)
    target = fake.stats.identifies + 1 if wait_ready is None else wait_ready
    await connector.open()
    task = asyncio.ensure_future(connector.start(sink))
    try:
        await fake.wait_ready(target)
        yield connector
    finally:
        try:
            await connector.stop()
            await task
        finally:
            await connector.close()
