"""Health that tells the truth: why a runner or worker is not ready, as JSON reasons.

``/readyz`` is red (503) with one reason per failing check, ``{"check": ..., "detail": ...}``,
and green again as soon as every check passes:

- ``runner``: not started yet, or shutting down.
- ``input``: an input keeps crashing (:data:`CRASH_LOOP` crashes in a row, the last one
  recent); cleared by its next progress report, or once it has not crashed for a while.
- ``stall``: a connector with a ``progress_interval`` (a poll loop) has not reported
  progress in :data:`STALL_INTERVALS` intervals since its last report or since it started
  running here (a standby replica's single-consumer input is not checked).
- ``connector``: a connector has been ``reconnecting``, ``rate_limited`` or ``down`` for
  longer than its ``down_grace`` (a gateway that stays disconnected).
- ``store``: a probe write to the store failed (a read-only file, a full disk, Redis gone).
- ``budget``: the daily or total budget is used up (the agent is not run until it resets).
- ``distributed``: a worker's read loop has not completed a read in several block intervals
  (wedged, or Redis gone), or lost its consumer group.

The checks are pure functions of what the metrics recorded and a clock, except the store
probe and the budget, which read the store (with a timeout, at most every
:data:`PROBE_EVERY` seconds).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agent_runner.pricing import Pricing, utc_day
from agent_runner.store import Store

if TYPE_CHECKING:
    from agent_runner.observability.metrics import RunnerMetrics

Reason = dict[str, Any]
"""``{"check": "stall", "detail": "...", ...}``."""

CRASH_LOOP = 3
"""Crashes in a row that make an input red."""
CRASH_MEMORY = 120.0
"""Seconds after its last crash that an input in a crash loop stays red (without progress)."""
STALL_INTERVALS = 3
"""Progress intervals a watched connector may miss before it is stalled."""
PROBE_EVERY = 5.0
"""Seconds between two store probes (``/readyz`` in between reuses the last result)."""
PROBE_TIMEOUT = 5.0
"""Seconds a store probe may take."""
PROBE_KEY = "agent_runner:health:probe"
"""The state key the store probe writes."""


def reason(check: str, detail: str, **extra: Any) -> Reason:
    return {"check": check, "detail": detail, **extra}


def connector_reasons(
    connectors: Sequence[object],
    metrics: RunnerMetrics,
    *,
    now: float,
    since: Mapping[str, float],
) -> list[Reason]:
    """Stalled and long-down ``connectors`` (those running here; ``since``: when each one
    started running here, by name)."""
    found = []
    for connector in connectors:
        name = str(getattr(connector, "name", "?"))
        started = since.get(name, now)
        state = metrics.states.get(name, "up")
        grace = float(getattr(connector, "down_grace", 60.0))
        if state != "up":
            away = now - metrics.since.get(name, now)
            if away > grace:
                found.append(
                    reason("connector", f"{name} has been {state} for {away:.0f}s", connector=name)
                )
            continue
        interval = getattr(connector, "progress_interval", None)
        if interval:
            quiet = now - max(metrics.last_event.get(name, started), started)
            if quiet > STALL_INTERVALS * interval:
                found.append(
                    reason(
                        "stall",
                        f"{name} has made no progress in {quiet:.0f}s (expected every "
                        f"{interval:g}s)",
                        connector=name,
                    )
                )
    return found


def crash_reasons(metrics: RunnerMetrics, *, now: float) -> list[Reason]:
    """Inputs in a crash loop."""
    return [
        reason("input", f"{name} keeps crashing ({count} in a row)", connector=name)
        for name, (count, at) in metrics.crashes.items()
        if count >= CRASH_LOOP and now - at < CRASH_MEMORY
    ]


class StoreProbe:
    """Writes :data:`PROBE_KEY` at most every :data:`PROBE_EVERY` seconds; the reason when
    the last write failed."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._at = -PROBE_EVERY
        self._last: Reason | None = None

    async def reasons(self) -> list[Reason]:
        now = time.monotonic()
        if now - self._at >= PROBE_EVERY:
            self._at = now
            self._last = await self._probe()
        return [self._last] if self._last is not None else []

    async def _probe(self) -> Reason | None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await self._store.state_set(PROBE_KEY, str(time.time()))
        except Exception as exc:  # any failure to write is the answer
            self._at = -PROBE_EVERY  # probe again on the next request: recover at once
            return reason("store", f"the store cannot write: {type(exc).__name__}: {exc}")
        return None


async def budget_status(pricing: Pricing | None, store: Store) -> dict[str, dict[str, float]]:
    """The daily and total budgets: ``{"day": {"limit", "spent", "remaining"}, ...}``."""
    budget = pricing.budget if pricing is not None else None
    if budget is None:
        return {}
    day = utc_day(time.time())
    found = {}
    for scope, limit in (("day", budget.per_day), ("total", budget.total)):
        if limit is None:
            continue
        async with asyncio.timeout(PROBE_TIMEOUT):
            spent = await (store.cost_sum(day=day) if scope == "day" else store.cost_sum())
        found[scope] = {"limit": limit, "spent": spent, "remaining": max(0.0, limit - spent)}
    return found


async def budget_reasons(
    pricing: Pricing | None, store: Store, metrics: RunnerMetrics
) -> list[Reason]:
    """The daily and total budgets used up (and ``agent_runner_budget_remaining`` set)."""
    found = []
    labels = {"day": "daily", "total": "total"}
    for scope, b in (await budget_status(pricing, store)).items():
        metrics.budget_remaining.labels(scope).set(b["remaining"])
        if b["spent"] >= b["limit"]:
            found.append(
                reason(
                    "budget",
                    f"the {labels[scope]} budget of {b['limit']:g} is used up "
                    f"({b['spent']:g} spent)",
                )
            )
    return found


__all__ = [
    "CRASH_LOOP",
    "CRASH_MEMORY",
    "PROBE_EVERY",
    "PROBE_KEY",
    "PROBE_TIMEOUT",
    "STALL_INTERVALS",
    "Reason",
    "StoreProbe",
    "budget_reasons",
    "budget_status",
    "connector_reasons",
    "crash_reasons",
    "reason",
]
