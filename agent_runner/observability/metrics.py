"""The runner's Prometheus metrics: :class:`RunnerMetrics`, one registry per runtime.

Each runtime (and each worker) owns a ``CollectorRegistry`` of its own, so two runtimes in
one process never share or collide; the operator endpoint serves it at ``/metrics``.
Every label has a bounded set of values: connector and output names, outcomes, refusal
codes, and model names (at most :data:`MAX_MODELS`; more count as ``other``).

=====================================================  ======================================
``agent_runner_messages_received_total{source}``       messages that reached the sink
``agent_runner_messages_refused_total{source,reason}``  refused (:data:`REFUSAL_CODES`)
``agent_runner_messages_duplicate_total{source}``      already journaled, not handled again
``agent_runner_messages_handled_total{source,outcome}``  turn run, replies sent
``agent_runner_messages_failed_total{source}``         handling raised (stays journaled)
``agent_runner_handling_seconds{source}``              histogram: turn plus replies
``agent_runner_agent_seconds``                         histogram: the conversation turn
``agent_runner_journal_pending``                       accepted inputs not yet answered
``agent_runner_mailbox_depth``                         messages queued or in progress
``agent_runner_replies_total{output,outcome}``         sent, retried, failed, lost, ...
``agent_runner_model_calls_total{model}``              model calls a meter recorded
``agent_runner_model_tokens_total{model,kind}``        ``kind``: ``input`` or ``output``
``agent_runner_model_cost_total{model}``               cost, in the prices' currency
``agent_runner_budget_remaining{scope}``               ``day`` and ``total`` budgets
``agent_runner_connector_state{connector,state}``      1 for the current state
``agent_runner_connector_last_event_seconds{connector}``  seconds since its last event
=====================================================  ======================================
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client import Enum as EnumMetric
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from agent_runner.observability.activity import Activity

if TYPE_CHECKING:  # the runner imports this package: no import of the runner at run time
    from agent_runner.connector import ConnectorState
    from agent_runner.message import Message

MAX_MODELS = 32
"""Distinct model label values kept; further models are counted as ``other``."""

CONNECTOR_STATES: tuple[ConnectorState, ...] = ("up", "reconnecting", "rate_limited", "down")

FOLD_AFTER = 64
"""Handled messages and reply events logged before they are counted (and at every read)."""

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


_BOUNDS = (*(str(float(b)) for b in LATENCY_BUCKETS), "+Inf")
_FLOAT_BUCKETS = tuple(float(b) for b in LATENCY_BUCKETS)
"""The buckets as floats (bisecting a float among ints compares slower)."""


class _Counter:
    """A counter family kept as a plain dict (label values -> total): the hot path is one
    dict update, no lock (the runner is one event loop); exposed at scrape time."""

    __slots__ = ("name", "help", "labels", "values")

    def __init__(self, name: str, help: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.labels = name, help, labels
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, key: tuple[str, ...], amount: float = 1.0) -> None:
        values = self.values
        values[key] = values.get(key, 0.0) + amount

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.help, labels=self.labels)
        for key, value in self.values.items():
            family.add_metric(key, value)
        return family


class _Histogram:
    """A histogram family kept as bucket counts per label values (one bisect and two list
    updates per observation); cumulated at scrape time."""

    __slots__ = ("name", "help", "labels", "values")

    def __init__(self, name: str, help: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.labels = name, help, labels
        self.values: dict[tuple[str, ...], list[float]] = {}
        """Label values -> [count per bucket ..., count over the last bucket, sum]."""

    def counts(self, key: tuple[str, ...]) -> list[float]:
        """The bucket counts of ``key``, made on first use (the hooks update them in place:
        ``counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1; counts[-1] += seconds``)."""
        counts = self.values.get(key)
        if counts is None:
            counts = self.values[key] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        return counts

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.help, labels=self.labels)
        for key, counts in self.values.items():
            cumulative, buckets = 0.0, list[tuple[str, float]]()
            for count in counts[:-1]:
                cumulative += count
                buckets.append((_BOUNDS[len(buckets)], cumulative))
            family.add_metric(key, buckets, counts[-1])
        return family


class RunnerMetrics:
    """The :class:`~agent_runner.runner.operations.Operations` that counts in Prometheus.

    Counters and histograms are plain dicts updated on the event loop and turned into
    Prometheus families when scraped. A handled message is only logged (a list append);
    the log is counted in one pass every
    :data:`FOLD_AFTER` entries and before every read, which costs less per message than
    updating counters, histograms and the status page's activity one message at a time. A
    finished turn updates its histogram at once (one bisect); the runner counts its replies'
    outcomes straight into :attr:`replies` (``ReplySender.counts``).

    Args:
        clock: wall-clock seconds (for "seconds since the last event").
        show_text: keep recent messages' text for the status page (default: redacted).

    Example:
        >>> metrics = RunnerMetrics()
        >>> metrics.message_received("http")
        >>> b"agent_runner_messages_received_total" in metrics.exposition()
        True
    """

    def __init__(self, *, clock: Callable[[], float] = time.time, show_text: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        """The registry ``/metrics`` serves (this runtime's only)."""
        self._clock = clock
        self.activity = Activity(clock=clock, show_text=show_text)
        """What the status page charts (per minute, per day, recent messages)."""
        self._models: set[str] = set()
        self._handled_log: list[tuple[float, Message, str, float]] = []
        """Handled messages not yet counted: ``(time.perf_counter() when done, message,
        outcome, seconds)``."""
        self.last_event: dict[str, float] = {}
        """Connector name -> wall-clock time of its last reported progress."""
        self.states: dict[str, ConnectorState] = {}
        """Connector name -> its last reported state."""
        self.since: dict[str, float] = {}
        """Connector name -> wall-clock time it entered its current state."""
        self.crashes: dict[str, tuple[int, float]] = {}
        """Input name -> (crashes in a row, wall-clock time of the last); progress clears it."""
        p = "agent_runner_"
        self.received = _Counter(
            f"{p}messages_received", "Messages that reached the sink.", ("source",)
        )
        self.refused = _Counter(
            f"{p}messages_refused", "Messages the sink refused, by reason.", ("source", "reason")
        )
        self.duplicates = _Counter(
            f"{p}messages_duplicate", "Messages already journaled (not handled again).", ("source",)
        )
        self.handled = _Counter(
            f"{p}messages_handled",
            "Messages handled: turn run, replies sent.",
            ("source", "outcome"),
        )
        self.failed = _Counter(
            f"{p}messages_failed", "Messages whose handling raised (kept journaled).", ("source",)
        )
        self.handling = _Histogram(
            f"{p}handling_seconds", "Seconds from a message's turn start to its replies sent.",
            ("source",),
        )  # fmt: skip
        self.agent = _Histogram(
            f"{p}agent_seconds", "Seconds a conversation turn (the agent) took."
        )
        self._agent_counts = self.agent.counts(())
        self.replies = _Counter(
            f"{p}replies", "Reply deliveries by outcome (sent, retried, failed, lost, resumed, "
            "reconciled).", ("output", "outcome"),
        )  # fmt: skip
        self.input_crashes = _Counter(
            f"{p}input_crashes", "Input crashes (each restarted with backoff).", ("source",)
        )
        self.model_calls = _Counter(f"{p}model_calls", "Model calls recorded.", ("model",))
        self.model_tokens = _Counter(f"{p}model_tokens", "Tokens used.", ("model", "kind"))
        self.model_cost = _Counter(f"{p}model_cost", "Cost of model calls.", ("model",))
        self._families = (
            self.received, self.refused, self.duplicates, self.handled, self.failed,
            self.handling, self.agent, self.replies, self.input_crashes, self.model_calls,
            self.model_tokens, self.model_cost,
        )  # fmt: skip
        r = self.registry
        r.register(_Families(self._families, self.fold))
        self.journal_pending = Gauge(
            f"{p}journal_pending", "Accepted inputs not yet answered.", registry=r
        )
        self.mailbox_depth = Gauge(
            f"{p}mailbox_depth", "Messages queued or in progress.", registry=r
        )
        self.budget_remaining = Gauge(f"{p}budget_remaining", "Budget left.", ["scope"], registry=r)
        self.connector_state_metric = EnumMetric(
            f"{p}connector_state", "Each connector's state.", ["connector"],
            states=list(CONNECTOR_STATES), registry=r,
        )  # fmt: skip
        self.connector_age = Gauge(
            f"{p}connector_last_event_seconds",
            "Seconds since the connector's last event or finished poll.", ["connector"],
            registry=r,
        )  # fmt: skip

    # -- Operations --------------------------------------------------------------------
    # The per-message hooks update the families' dicts in place (no method call per
    # family): the whole of them is a few hundred nanoseconds a message.
    def message_received(self, source: str) -> None:
        values, key = self.received.values, (source,)
        values[key] = values.get(key, 0.0) + 1.0

    def message_refused(self, source: str, reason: str) -> None:
        self.refused.inc((source, reason))

    def message_duplicate(self, source: str) -> None:
        self.duplicates.inc((source,))

    def message_handled(
        self, message: Message, outcome: str, began: float, ended: float, turn: float
    ) -> None:
        counts = self._agent_counts
        counts[bisect_left(_FLOAT_BUCKETS, turn)] += 1
        counts[-1] += turn
        log = self._handled_log
        log.append((ended, message, outcome, ended - began))
        if len(log) >= FOLD_AFTER:
            self.fold()

    def message_failed(self, source: str) -> None:
        self.failed.inc((source,))
        self.activity.failed()

    def agent_finished(self, outcome: str, seconds: float) -> None:
        counts = self._agent_counts
        counts[bisect_left(_FLOAT_BUCKETS, seconds)] += 1
        counts[-1] += seconds

    def model_call(self, model: str, input_tokens: int, output_tokens: int, cost: float) -> None:
        if model not in self._models:
            if len(self._models) >= MAX_MODELS:
                model = "other"
            else:
                self._models.add(model)
        self.model_calls.inc((model,))
        self.model_tokens.inc((model, "input"), input_tokens)
        self.model_tokens.inc((model, "output"), output_tokens)
        self.model_cost.inc((model,), cost)
        self.activity.cost(cost)

    def connector_state(self, name: str, state: ConnectorState) -> None:
        now = self.last_event[name] = self._clock()
        if self.states.get(name) != state:
            self.states[name] = state
            self.since[name] = now
            self.connector_state_metric.labels(name).state(state)
        if state == "up" and name in self.crashes:
            del self.crashes[name]

    def input_crashed(self, name: str, failures: int) -> None:
        self.crashes[name] = (failures, self._clock())
        self.input_crashes.inc((name,))

    # -- reading -----------------------------------------------------------------------
    def fold(self) -> None:
        """Count the handled messages logged since the last fold (every read of the
        registry or the activity folds first)."""
        log, self._handled_log = self._handled_log, []
        if log:
            self._count_handled(log)
            # Logged on the runner's monotonic clock: one wall-clock reading per fold.
            self.activity.handled(log, self._clock() - time.perf_counter())

    def _count_handled(self, log: list[tuple[float, Message, str, float]]) -> None:
        """Count a batch of handled messages: a run of one source and outcome (the usual
        batch is one run) updates the counter once; each message, its bucket."""
        handled, handling, buckets = self.handled.values, self.handling, _FLOAT_BUCKETS
        key, counts, run, total = ("", ""), [0.0], 0, 0.0
        for _, message, outcome, seconds in log:
            source = message.source
            if source != key[0] or outcome != key[1]:
                if run:
                    handled[key] = handled.get(key, 0.0) + run
                    counts[-1] += total
                key, run, total = (source, outcome), 0, 0.0
                counts = handling.counts((source,))
            run += 1
            total += seconds
            counts[bisect_left(buckets, seconds)] += 1
        handled[key] = handled.get(key, 0.0) + run
        counts[-1] += total

    def snapshot(self) -> dict[str, Any]:
        """The status page's activity (:meth:`Activity.snapshot`), folded first."""
        self.fold()
        return self.activity.snapshot()

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format (what ``/metrics`` answers)."""
        now = self._clock()
        for name, at in self.last_event.items():
            self.connector_age.labels(name).set(max(0.0, now - at))
        return generate_latest(self.registry)

    def total(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples whose labels include ``labels`` (``name`` as
        exposed, e.g. ``agent_runner_messages_handled_total``)."""
        found = 0.0
        for metric in self.registry.collect():
            for sample in metric.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    found += sample.value
        return found


class _Families(Collector):
    def __init__(
        self, families: tuple[_Counter | _Histogram, ...], fold: Callable[[], None]
    ) -> None:
        self._families = families
        self._fold = fold

    def collect(self) -> Iterable[Metric]:
        self._fold()
        return [family.family() for family in self._families]

    def describe(self) -> Iterable[Metric]:
        return self.collect()


__all__ = ["CONNECTOR_STATES", "FOLD_AFTER", "LATENCY_BUCKETS", "MAX_MODELS", "RunnerMetrics"]
