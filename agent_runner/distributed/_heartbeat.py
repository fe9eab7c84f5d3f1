"""Heartbeat: the maintenance loop of a worker, and its membership of the deployment.

Every ``heartbeat_interval``, or at once when something asks (:meth:`Heartbeat.soon`), one
step advertises the hosted types and keeps the owned partitions in step (its
:class:`PartitionTable`), trims the handled entries of the owned streams, re-asserts this
runtime's subscriptions and keeps its reply and control streams from expiring. On a clean
stop the worker gives its partitions up and leaves at once (:meth:`Heartbeat.leave`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as redis

from agent_runner.backoff import backoff_delay
from agent_runner.distributed._hosted_agents import HostedAgents
from agent_runner.distributed._loops import end_loop
from agent_runner.distributed._messenger import Messenger
from agent_runner.distributed._options import Options
from agent_runner.distributed._outbox import TRANSIENT_ERRORS, Outbox
from agent_runner.distributed._partition_counts import PartitionCounts
from agent_runner.distributed._partition_reader import send_wake
from agent_runner.distributed._partitions import PartitionTable
from agent_runner.distributed._registry import Partition, Registry
from agent_runner.distributed._subscriptions import SubscriptionTable
from agent_runner.distributed._wire import Keys

logger = logging.getLogger(__name__)


class Heartbeat:
    """Runs the heartbeat steps of one worker between :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        client: redis.Redis,
        agents: HostedAgents,
        subscriptions: SubscriptionTable,
        messenger: Messenger,
        counts: PartitionCounts,
        outbox: Outbox,
        keys: Keys,
        options: Options,
        *,
        worker_id: str,
        on_released: Callable[[set[Partition]], Awaitable[None]],
    ) -> None:
        self._registry = Registry(client, keys, worker_id)
        self.table = PartitionTable(
            client,
            keys,
            self._registry,
            counts,
            options,
            on_released=on_released,
            nudge=lambda worker: send_wake(outbox, keys, worker, "rebalance"),
        )
        self._agents = agents
        self._subscriptions = subscriptions
        self._messenger = messenger
        self._outbox = outbox
        self._keys = keys
        self._options = options
        self._worker_id = worker_id
        self._event = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.running = False

    def start(self) -> None:
        self.running = True
        self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def stop(self) -> None:
        """Let the current step finish and end the loop."""
        self.running = False
        self._event.set()
        if self._task is not None:
            await end_loop(self._task, self._options.block + 2.0)
            self._task = None

    def soon(self) -> None:
        """Run the next step now instead of at the next interval."""
        self._event.set()

    async def leave(self) -> None:
        """Give every owned partition up and leave at once (after :meth:`stop`); the peers
        are asked to rebalance now rather than after ``heartbeat_ttl``."""
        me = self._worker_id
        peers = {w for live in self.table.members.values() for w in live} - {me}
        try:
            await self.table.release_all()
            await self._registry.leave(list(self._agents.factories))
        except TRANSIENT_ERRORS as exc:
            logger.warning("worker %s: could not release partitions: %r", me, exc)
        for peer in peers:
            send_wake(self._outbox, self._keys, peer, "rebalance")

    async def _run(self) -> None:
        attempt = 0
        while self.running:
            try:
                await self.step()
                attempt = 0
                delay = self._options.heartbeat_interval
            except TRANSIENT_ERRORS as exc:
                attempt += 1
                delay = backoff_delay(
                    attempt, base=0.05, cap=self._options.heartbeat_interval, jitter="equal"
                )
                logger.warning("worker %s: heartbeat failed (%r)", self._worker_id, exc)
            except Exception:
                logger.exception("worker %s: heartbeat step failed", self._worker_id)
                delay = self._options.heartbeat_interval
            if not self.running:
                break
            try:
                async with asyncio.timeout(delay):
                    await self._event.wait()
            except TimeoutError:
                pass
            self._event.clear()

    async def step(self) -> None:
        """One heartbeat step (steps never overlap)."""
        async with self._lock:
            types = {t: self._options.partitions for t in self._agents.factories}
            if types and self.running:
                if await self.table.step(types):
                    send_wake(self._outbox, self._keys, self._worker_id, "partitions")
                for stream, floor in self.table.take_trims():
                    self._outbox.push("XTRIM", stream, "MINID", "~", floor)
            await self._subscriptions.reassert()
            self._messenger.trim_replies()
            keep = max(60_000, self._options.ttl_ms * 10)
            self._outbox.push("PEXPIRE", self._keys.control(self._worker_id), keep)


__all__ = ["Heartbeat"]
