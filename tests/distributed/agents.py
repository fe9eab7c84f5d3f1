"""Agents hosted by the worker processes the tests start::

    python -m agent_runner.distributed tests.distributed.agents --redis-url ... --prefix ...

Handlers record what they handle in Redis lists (``$TEST_RECORD_KEY``), so a test can count
deliveries even of a worker it killed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis

from agent_runner.core import MessageContext, RoutedAgent, event, rpc, type_subscription
from agent_runner.distributed import DistributedAgentRuntime


@dataclass
class Add:
    n: int
    seq: int = 0


@dataclass
class Total:
    key: str
    total: int
    worker: str


@dataclass
class Announce:
    text: str


_recorder: redis.Redis | None = None


async def record(suffix: str, value: str) -> None:
    """RPUSH ``value`` to ``$TEST_RECORD_KEY:suffix`` (no-op when the variable is unset)."""
    global _recorder
    key = os.environ.get("TEST_RECORD_KEY")
    if not key:
        return
    if _recorder is None:
        # A handler waits for a free connection as long as it takes (timeout None): on a
        # loaded machine 200 concurrent handlers can wait longer than any fixed bound, and
        # the tests bound every wait by their own deadlines.
        pool = redis.BlockingConnectionPool.from_url(
            os.environ["REDIS_URL"], max_connections=32, timeout=None
        )
        _recorder = redis.Redis(connection_pool=pool)
    await _recorder.rpush(f"{key}:{suffix}", value)


def worker_of(agent: RoutedAgent) -> str:
    return str(getattr(agent.runtime, "worker_id", "local"))


class Counter(RoutedAgent):
    """Adds numbers per key; the total is its state (saved after each message)."""

    def __init__(self) -> None:
        super().__init__("counts")
        self.total = 0

    @rpc
    async def on_add(self, message: Add, ctx: MessageContext) -> Total:
        self.total += message.n
        await record("handled", f"{self.id.key}:{message.seq}")
        return Total(self.id.key, self.total, worker_of(self))

    async def save_state(self) -> Mapping[str, Any]:
        return {"total": self.total}

    async def load_state(self, state: Mapping[str, Any]) -> None:
        self.total = int(state["total"])


@type_subscription("announcements")
class Listener(RoutedAgent):
    """Records announcements it hears."""

    def __init__(self) -> None:
        super().__init__("listens")

    @event
    async def on_announce(self, message: Announce, ctx: MessageContext) -> None:
        await record("events", f"{self.id.key}:{message.text}:{worker_of(self)}")


async def register(runtime: DistributedAgentRuntime) -> None:
    await Counter.register(runtime, "counter", Counter)
    await Listener.register(runtime, "listener", Listener)
