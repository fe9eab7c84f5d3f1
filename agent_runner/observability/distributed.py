"""The distributed runtime's metrics, on the endpoint of the runner or worker that runs it.

:meth:`OperatorEndpoint.watch <agent_runner.observability.OperatorEndpoint.watch>` turns the
counters of a :class:`~agent_runner.distributed.DistributedAgentRuntime` on and registers a
:class:`DistributedCollector` that reads them at scrape time. Labels are bounded: agent
types, kinds, outcomes.

=================================================================  ===============================
``agent_runner_distributed_partitions_owned{agent_type}``          partitions this process owns
``agent_runner_distributed_partition_claims_total{kind}``          ``acquired`` leases,
                                                                   ``taken_over`` from a dead owner
``agent_runner_distributed_redeliveries_total{kind}``              ``reread`` pending entries,
                                                                   ``reclaimed`` from another one
``agent_runner_distributed_rpc_total{outcome}``                    ``ok``, ``error``, ``timeout``,
                                                                   ``cancelled`` (caller's side)
``agent_runner_distributed_outbox_depth``                          writes queued, not yet sent
=================================================================  ===============================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:  # the endpoint runs without Redis installed: no import at run time
    from agent_runner.distributed._stats import DistributedStats

_P = "agent_runner_distributed_"


class DistributedCollector(Collector):
    """The metric families of one runtime's :class:`DistributedStats`, built when scraped."""

    def __init__(self, stats: DistributedStats) -> None:
        self._stats = stats

    def collect(self) -> Iterable[Metric]:
        stats = self._stats
        owned = GaugeMetricFamily(
            f"{_P}partitions_owned", "Partitions this process owns.", labels=["agent_type"]
        )
        for agent_type, count in sorted(stats.owned().items()):
            owned.add_metric([agent_type], count)
        claims = CounterMetricFamily(
            f"{_P}partition_claims",
            "Partition leases acquired, and partitions taken over with entries another "
            "worker left pending.",
            labels=["kind"],
        )
        claims.add_metric(["acquired"], stats.acquired)
        claims.add_metric(["taken_over"], stats.taken_over)
        redeliveries = CounterMetricFamily(
            f"{_P}redeliveries",
            "Pending entries read again, and entries claimed from another consumer.",
            labels=["kind"],
        )
        redeliveries.add_metric(["reread"], stats.reread)
        redeliveries.add_metric(["reclaimed"], stats.reclaimed)
        rpc = CounterMetricFamily(
            f"{_P}rpc", "RPCs this process sent, by outcome.", labels=["outcome"]
        )
        for outcome, count in stats.rpc.items():
            rpc.add_metric([outcome], count)
        depth = GaugeMetricFamily(
            f"{_P}outbox_depth", "Redis writes queued in the outbox, not yet sent."
        )
        depth.add_metric([], stats.outbox_depth())
        return [owned, claims, redeliveries, rpc, depth]

    def describe(self) -> Iterable[Metric]:
        return self.collect()


__all__ = ["DistributedCollector"]
