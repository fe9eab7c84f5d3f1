"""What a distributed runtime counts for its operators, once they ask for it.

:func:`operator_stats` makes the :class:`DistributedStats` of a runtime and hands it to the
few places that count (until then they find ``None`` and count nothing):
the partition table (leases acquired, partitions taken over from another worker), ``claim``
(entries claimed from another consumer), the read loop (pending entries read again) and the
pending calls (each RPC's outcome). Partitions owned and the outbox's depth are read when
asked. The operator endpoint exposes them (:mod:`agent_runner.observability.distributed`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent_runner.errors import RPCTimeoutError

if TYPE_CHECKING:
    from agent_runner.distributed._distributed_runtime import DistributedAgentRuntime

RPC_OUTCOMES = ("ok", "error", "timeout", "cancelled")
"""How an RPC ended, from its caller's side."""


class DistributedStats:
    """Plain counters of one runtime, and readers of its live figures.

    Args:
        owned: the partitions this worker owns, per agent type.
        outbox_depth: writes queued in the outbox, not yet sent.
    """

    __slots__ = ("acquired", "outbox_depth", "owned", "reclaimed", "reread", "rpc", "taken_over")

    def __init__(
        self, *, owned: Callable[[], dict[str, int]], outbox_depth: Callable[[], int]
    ) -> None:
        self.owned = owned
        self.outbox_depth = outbox_depth
        self.acquired = 0
        """Partition leases acquired."""
        self.taken_over = 0
        """Partitions acquired with entries another worker (a dead one) left pending."""
        self.reclaimed = 0
        """Pending entries claimed from another consumer (``XAUTOCLAIM``)."""
        self.reread = 0
        """Pending entries read again (after a claim, or after a failed read)."""
        self.rpc: dict[str, int] = dict.fromkeys(RPC_OUTCOMES, 0)
        """RPCs sent by this runtime, by outcome."""

    def rpc_done(self, future: asyncio.Future[Any]) -> None:
        """Count the outcome of an RPC whose future is done."""
        if future.cancelled():
            outcome = "cancelled"
        else:
            error = future.exception()
            if error is None:
                outcome = "ok"
            elif isinstance(error, RPCTimeoutError):
                outcome = "timeout"
            else:
                outcome = "error"
        self.rpc[outcome] += 1


def operator_stats(runtime: DistributedAgentRuntime) -> DistributedStats:
    """The counters of ``runtime``, counting from the first call on (the operator endpoint
    makes it when it watches the runtime; a runtime nobody watches counts nothing)."""
    table = runtime._heartbeat.table  # this package's own runtime: its parts, not a user's
    if table.stats is None:
        outbox = runtime._outbox
        stats = DistributedStats(owned=table.owned, outbox_depth=lambda: outbox.depth)
        table.stats = runtime._host.reader.stats = stats
        runtime._messenger.count_calls(stats)
    return table.stats


__all__ = ["RPC_OUTCOMES", "DistributedStats", "operator_stats"]
