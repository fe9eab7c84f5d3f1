"""Replica take-over on the operator endpoint: what this runner took over from other replicas.

:meth:`OperatorEndpoint.watch <agent_runner.observability.OperatorEndpoint.watch>` registers
a :class:`RecoveryCollector` over the runner's :class:`~agent_runner.runner.recovery.Recovery`,
which counts its take-overs whether or not anyone reads them; the collector reads the counts
at scrape time, so a runner whose endpoint is off pays nothing for it. No labels.

=================================================  ==========================================
``agent_runner_recovery_adopted_messages_total``   accepted messages not yet answered, taken
                                                   over from replicas that died or stopped
``agent_runner_recovery_takeovers_total``          take-overs: adoptions that moved messages
=================================================  ==========================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector


class Adoptions(Protocol):
    """What the collector reads (``Recovery`` is one)."""

    @property
    def adopted(self) -> int:
        """Messages taken over since start."""

    @property
    def takeovers(self) -> int:
        """Adoptions that took over at least one message, since start."""


class RecoveryCollector(Collector):
    """The take-over counters of one runner, built when scraped."""

    def __init__(self, recovery: Adoptions) -> None:
        self._recovery = recovery

    def collect(self) -> Iterable[Metric]:
        adopted = CounterMetricFamily(
            "agent_runner_recovery_adopted_messages",
            "Accepted messages not yet answered that this replica took over from replicas "
            "that died or stopped (or from an earlier run that named no replica).",
        )
        adopted.add_metric([], self._recovery.adopted)
        takeovers = CounterMetricFamily(
            "agent_runner_recovery_takeovers",
            "Take-overs: each time this replica adopted the pending messages of another.",
        )
        takeovers.add_metric([], self._recovery.takeovers)
        return [adopted, takeovers]

    def describe(self) -> Iterable[Metric]:
        return self.collect()


__all__ = ["Adoptions", "RecoveryCollector"]
