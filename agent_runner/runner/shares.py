"""Fair shares of a lease group: replicas spread the inputs of one group evenly.

Single-consumer inputs that name the same ``lease_group`` (the shards of one Discord bot)
are shared out between the replicas instead of all going to the first one up. Each replica
running the group holds one member lease, ``{group}:member:{k}`` (the first free ``k`` below
the group's size), renews it with its input leases and counts the held member leases every
``renew`` seconds. Its share is ``ceil(size / members)``: it takes a free input lease of the
group only while it holds fewer, and gives one back when it holds more (a replica joined).

When a replica dies its member lease expires with its input leases; the others count one
member less at their next count and take the inputs over: within ``ttl + renew + retry``
seconds of the kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from agent_runner.store import Store

_log = logging.getLogger("agent_runner.runtime")


class Shares:
    """The member leases and shares of this replica, one entry per lease group.

    Args:
        store: the shared store.
        holder: this replica's holder name.
        ttl: seconds a member lease lasts without renewal.
        every: seconds between renewals and counts.
        sizes: lease group -> how many inputs it has.
    """

    def __init__(
        self, store: Store, holder: str, *, ttl: float, every: float, sizes: Mapping[str, int]
    ) -> None:
        self.store, self.holder, self.ttl, self.every = store, holder, ttl, every
        self.sizes = dict(sizes)
        self.members = dict.fromkeys(self.sizes, 1)
        """Replicas counted in each group at the last count (at least this one)."""
        self._counted = {group: asyncio.Event() for group in self.sizes}

    def share(self, group: str) -> int:
        """How many inputs of ``group`` this replica may hold now."""
        return -(-self.sizes[group] // self.members[group])

    async def counted(self, group: str) -> None:
        """Wait for the first count of ``group`` (a replica takes nothing before)."""
        await self._counted[group].wait()

    async def run(self, group: str, stop: asyncio.Event) -> None:
        """Hold a member lease of ``group`` and count the members until ``stop``."""
        slot: str | None = None
        try:
            while not stop.is_set():
                try:
                    async with asyncio.timeout(self.every + self.ttl):
                        slot = await self._join(group, slot)
                        self.members[group] = max(1, await self._count(group))
                except Exception as exc:  # the store unreachable: keep the last count
                    _log.warning("counting the replicas of %s failed: %r", group, exc)
                self._counted[group].set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.every)
        finally:
            if slot is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self.ttl):
                        await self.store.lease_release(slot, self.holder)

    async def _join(self, group: str, slot: str | None) -> str | None:
        if slot is not None and await self.store.lease_acquire(slot, self.holder, self.ttl):
            return slot
        for k in range(self.sizes[group]):
            name = f"{group}:member:{k}"
            if await self.store.lease_acquire(name, self.holder, self.ttl) is not None:
                return name
        return None  # more replicas than inputs: this one only stands by

    async def _count(self, group: str) -> int:
        held = [
            await self.store.lease_holder(f"{group}:member:{k}") for k in range(self.sizes[group])
        ]
        return sum(1 for h in held if h is not None)


__all__ = ["Shares"]
