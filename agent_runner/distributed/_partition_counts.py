"""PartitionCounts: how many partition streams each agent type has, as this process knows it.

The first worker registering a type sets its count in the hash ``{prefix}:types``; a sender
needs it to pick the stream of a recipient key (``partition_of``). Counts are learned from
that hash on first use, or from heartbeats for the hosted types, and then kept.
"""

from __future__ import annotations

from agent_runner.distributed._outbox import Outbox
from agent_runner.distributed._wire import Keys


class PartitionCounts:
    """Partition counts by agent type, looked up in Redis once each."""

    __slots__ = ("_counts", "_key", "_outbox")

    def __init__(self, outbox: Outbox, keys: Keys) -> None:
        self._outbox = outbox
        self._key = keys.types
        self._counts: dict[str, int] = {}

    def cached(self, agent_type: str) -> int | None:
        """The count if already known (no Redis call)."""
        return self._counts.get(agent_type)

    def learn(self, agent_type: str, count: int) -> None:
        """Record a count read elsewhere (a heartbeat's answer)."""
        self._counts[agent_type] = count

    async def of(self, agent_type: str) -> int | None:
        """The count, looked up when not known yet; None when no worker registered the type."""
        count = self._counts.get(agent_type)
        if count is None:
            raw = await self._outbox.call("HGET", self._key, agent_type)
            if raw is None:
                return None
            count = self._counts[agent_type] = int(raw)
        return count


__all__ = ["PartitionCounts"]
