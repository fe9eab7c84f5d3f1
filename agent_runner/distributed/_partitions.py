"""Which partitions this worker owns, kept in step with heartbeats and leases.

Every ``heartbeat_interval`` (or at once when nudged) a worker: beats (advertising its types
and learning the live members), renews the leases it holds (a lost lease stops the reading
of that partition at once), stops reading the partitions rendezvous hashing now gives to
another worker and releases them when their in-flight messages are handled, and takes the
free leases of the partitions it should own, claiming what a dead owner left pending.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable

import redis.asyncio as redis

from agent_runner.distributed._claim import claim_pending, ensure_group
from agent_runner.distributed._options import Options
from agent_runner.distributed._partition_counts import PartitionCounts
from agent_runner.distributed._registry import Partition, Registry
from agent_runner.distributed._stats import DistributedStats
from agent_runner.distributed._wire import Keys, assigned_partitions

logger = logging.getLogger(__name__)


class PartitionState:
    """One owned partition."""

    __slots__ = (
        "cursor",
        "draining",
        "draining_since",
        "inflight",
        "key",
        "last_read",
        "ready",
        "stream",
        "stream_b",
    )

    def __init__(self, key: Partition, stream: str) -> None:
        self.key = key
        self.stream = stream
        self.stream_b = stream.encode()
        self.cursor = "0-0"
        """Read position: an entry id while re-reading our pending entries, then ``>``."""
        self.inflight: dict[bytes, int] = {}
        """Entries being handled -> how many of their messages are not finished."""
        self.draining = False
        self.draining_since = 0.0
        self.ready = False
        """True once no other consumer holds pending entries of this partition."""
        self.last_read: bytes | None = None


class PartitionTable:
    """The partitions owned by one worker and the loop step that maintains them."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        registry: Registry,
        counts: PartitionCounts,
        options: Options,
        *,
        on_released: Callable[[set[Partition]], Awaitable[None]],
        nudge: Callable[[str], None],
    ) -> None:
        self._client = client
        self._keys = keys
        self._registry = registry
        self._counts = counts
        self._options = options
        self._on_released = on_released
        self._nudge = nudge
        self.parts: dict[Partition, PartitionState] = {}
        self.by_stream: dict[bytes, PartitionState] = {}
        self.members: dict[str, list[str]] = {}
        self._pending_trims: list[tuple[str, str]] = []
        self.valid_until = 0.0
        """Monotonic time until which our leases are surely ours."""
        self.stats: DistributedStats | None = None
        """Counts leases and claims when the operator endpoint asks (``None``: off)."""

    def owned(self) -> dict[str, int]:
        """The partitions owned (draining ones included), per agent type."""
        found: dict[str, int] = {}
        for agent_type, _ in self.parts:
            found[agent_type] = found.get(agent_type, 0) + 1
        return found

    @property
    def me(self) -> str:
        return self._registry.worker_id

    def readable(self) -> list[PartitionState]:
        if time.monotonic() > self.valid_until:
            return []
        return [p for p in self.parts.values() if p.ready and not p.draining]

    def owns(self, key: Partition) -> bool:
        part = self.parts.get(key)
        return part is not None and not part.draining and time.monotonic() <= self.valid_until

    async def step(self, types: dict[str, int]) -> bool:
        """One maintenance step. Returns True when the set of readable partitions changed."""
        options = self._options
        before = {p.key for p in self.readable()}
        started = time.monotonic()
        beat = await self._registry.beat(types, options.ttl_ms)
        desired: set[Partition] = set()
        for agent_type, (count, live) in beat.items():
            self._counts.learn(agent_type, count)
            self.members[agent_type] = live
            for number in assigned_partitions(live, agent_type, count, self.me):
                desired.add((agent_type, number))
        for agent_type in list(self.members):
            if agent_type not in types:
                del self.members[agent_type]

        held = await self._registry.renew(list(self.parts), options.ttl_ms)
        self.valid_until = started + options.heartbeat_ttl * 0.8
        lost = set(self.parts) - held
        if lost:
            logger.warning("worker %s lost the leases of %s", self.me, sorted(lost))
            await self._drop(lost)

        release: set[Partition] = set()
        now = time.monotonic()
        for key, part in self.parts.items():
            if key not in desired:
                if not part.draining:
                    part.draining, part.draining_since = True, now
                if not part.inflight:
                    release.add(key)
                elif now - part.draining_since > options.shutdown_grace:
                    logger.warning(
                        "worker %s: %s still has %d entries in hand after %.0fs; released",
                        self.me,
                        key,
                        len(part.inflight),
                        options.shutdown_grace,
                    )
                    release.add(key)
        if release:
            await self._drop(release)
            await self._registry.release(release)

        wanted = [k for k in desired if k not in self.parts]
        if wanted:
            got, holders = await self._registry.acquire(wanted, options.ttl_ms)
            if self.stats is not None:
                self.stats.acquired += len(got)
            for holder in holders:
                self._nudge(holder)
            for key in got:
                part = PartitionState(key, self._keys.inbox(*key))
                self.parts[key] = part
                self.by_stream[part.stream_b] = part
        for part in self.parts.values():
            if not part.ready and not part.draining:
                await ensure_group(self._client, part.stream)
                claimed, remaining = await claim_pending(
                    self._client,
                    part.stream,
                    self.me,
                    min_idle_ms=int(options.claim_min_idle * 1000),
                )
                part.ready = remaining == 0
                if self.stats is not None and claimed:
                    self.stats.reclaimed += claimed
                    self.stats.taken_over += 1
        self._trim()
        return before != {p.key for p in self.readable()}

    def _trim(self) -> None:
        """Delete handled entries from the streams we own (``XTRIM MINID``)."""
        for part in self.parts.values():
            if not part.ready or part.cursor != ">" or part.last_read is None:
                continue
            if part.inflight:
                floor = min(part.inflight, key=_id_key).decode()
            else:
                ms, _, seq = part.last_read.decode().partition("-")
                floor = f"{ms}-{int(seq or 0) + 1}"
            self._pending_trims.append((part.stream, floor))

    def take_trims(self) -> list[tuple[str, str]]:
        """``(stream, min_id)`` pairs to send as ``XTRIM stream MINID ~ min_id``."""
        trims, self._pending_trims = self._pending_trims, []
        return trims

    async def _drop(self, keys: set[Partition]) -> None:
        for key in keys:
            part = self.parts.pop(key, None)
            if part is not None:
                self.by_stream.pop(part.stream_b, None)
        await self._on_released(keys)

    async def drained(self, types: Iterable[str]) -> bool:
        """Whether every partition stream of ``types`` (owned here or not) has nothing pending
        and nothing unread in the consumer group."""
        pipe = self._client.pipeline(transaction=False)
        streams = []
        for agent_type in types:
            for number in range(self._counts.cached(agent_type) or 0):
                streams.append(self._keys.inbox(agent_type, number))
                pipe.execute_command("XINFO", "GROUPS", streams[-1])
        if not streams:
            return True
        for result in await pipe.execute(raise_on_error=False):
            if isinstance(result, Exception):
                continue
            for group in result:
                if int(group.get("pending") or 0) or int(group.get("lag") or 0):
                    return False
        return True

    async def release_all(self) -> None:
        keys = set(self.parts)
        await self._drop(keys)
        await self._registry.release(keys)
        self.valid_until = 0.0


def _id_key(entry_id: bytes) -> tuple[int, int]:
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq or 0)
