"""What the status page charts: recent activity per minute and per day, kept in memory.

:class:`Activity` is fed by the runner's metrics (:class:`~.metrics.RunnerMetrics`) and read by
``/api/status``: messages handled and errors per minute for the last hour with their latency
percentiles (from a bounded sample of each minute), messages, errors and cost per UTC day for
the last two weeks, the conversations active in the last five minutes, and the last messages
(their text redacted unless ``AGENT_RUNNER_ADMIN_SHOW_TEXT`` is on). Everything is bounded;
nothing here survives a restart (the store's cost ledger does).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent_runner.message import Message
from agent_runner.pricing import utc_day

MINUTES = 60
"""Minutes of per-minute history kept."""
DAYS = 14
"""Days of per-day history kept."""
SAMPLES_PER_MINUTE = 512
"""Latency samples kept per minute (the first ones; enough for p99 of a busy minute)."""
RECENT = 50
"""Recent messages kept."""
ACTIVE_WINDOW = 300.0
"""Seconds a conversation counts as active after its last message."""
MAX_ACTIVE = 10_000
"""Conversations tracked as active at most."""


@dataclass(slots=True)
class _Minute:
    t: int
    handled: int = 0
    errors: int = 0
    samples: list[float] = field(default_factory=list)


@dataclass(slots=True)
class _Day:
    day: str
    messages: int = 0
    errors: int = 0
    cost: float = 0.0


def percentile(samples: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``samples`` by nearest rank; ``None`` when empty.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5)
    2.0
    """
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, int(q * len(ordered) + 0.999999) - 1))
    return ordered[rank]


class Activity:
    """Bounded recent activity of one runner (see the module doc).

    Recording a message is a few attribute updates: the current minute and day are kept
    until the clock crosses the next minute, recent messages are kept as tuples and
    formatted when the status is read.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time, show_text: bool = False) -> None:
        self._clock = clock
        self.show_text = show_text
        self._minutes: deque[_Minute] = deque(maxlen=MINUTES)
        self._days: deque[_Day] = deque(maxlen=DAYS)
        self._active: dict[tuple[str, str], float] = {}
        self._recent: deque[tuple[float, Message, str, float]] = deque(maxlen=RECENT)
        self._minute = _Minute(0)
        self._day = _Day("")
        self._from, self._until = 0.0, 0.0
        """The current minute (a day always ends where a minute does)."""

    def handled(self, log: list[tuple[float, Message, str, float]], offset: float = 0.0) -> None:
        """Messages handled: ``(time, message, outcome, seconds of its turn and replies)``
        each, in order, their time plus ``offset`` being wall-clock time (one call per batch:
        the loop keeps its locals)."""
        active, start, end = self._active, self._from, self._until
        minute, day = self._minute, self._day
        handled = 0
        for at, message, outcome, seconds in log:
            now = at + offset
            if not start <= now < end:
                minute.handled += handled
                day.messages += handled
                handled = 0
                self._roll(now)
                minute, day, start, end = self._minute, self._day, self._from, self._until
            handled += 1
            if len(minute.samples) < SAMPLES_PER_MINUTE:
                minute.samples.append(seconds)
            if outcome == "error" or outcome == "timeout":
                minute.errors += 1
                day.errors += 1
            active[message.source, message.conversation_id] = now
        minute.handled += handled
        day.messages += handled
        if len(active) > MAX_ACTIVE:
            self._forget_inactive(log[-1][0] + offset)
        self._recent.extend((at + offset, m, o, s) for at, m, o, s in log[-RECENT:])

    def failed(self) -> None:
        now = self._clock()
        if not self._from <= now < self._until:
            self._roll(now)
        self._minute.errors += 1
        self._day.errors += 1

    def cost(self, amount: float) -> None:
        now = self._clock()
        if not self._from <= now < self._until:
            self._roll(now)
        self._day.cost += amount

    def snapshot(self) -> dict[str, Any]:
        """``minutes``, ``days``, ``latency``, ``active_conversations``, ``recent``."""
        now = self._clock()
        current = int(now // 60) * 60
        by_t = {m.t: m for m in self._minutes}
        minutes = []
        for t in range(current - (MINUTES - 1) * 60, current + 60, 60):
            m = by_t.get(t)
            minutes.append(
                {
                    "t": t,
                    "handled": m.handled if m else 0,
                    "errors": m.errors if m else 0,
                    "p50": percentile(m.samples, 0.5) if m else None,
                    "p99": percentile(m.samples, 0.99) if m else None,
                }
            )
        recent_samples = [s for m in self._minutes if m.t > current - 300 for s in m.samples]
        cutoff = now - ACTIVE_WINDOW
        for key in [k for k, at in self._active.items() if at < cutoff]:
            del self._active[key]
        return {
            "minutes": minutes,
            "days": [
                {"day": d.day, "messages": d.messages, "errors": d.errors, "cost": d.cost}
                for d in self._days
            ],
            "latency": {
                "p50": percentile(recent_samples, 0.5),
                "p99": percentile(recent_samples, 0.99),
            },
            "active_conversations": len(self._active),
            "recent": [self._recent_entry(*entry) for entry in reversed(self._recent)],
        }

    def _recent_entry(
        self, at: float, message: Message, outcome: str, seconds: float
    ) -> dict[str, Any]:
        return {
            "at": at,
            "key": message.key,
            "conversation": message.conversation_key,
            "outcome": outcome,
            "seconds": round(seconds, 4),
            "text": message.text if self.show_text else f"[redacted: {len(message.text)} chars]",
        }

    def _roll(self, now: float) -> None:
        """Make the minute (and day) of ``now`` current."""
        t = int(now // 60) * 60
        self._from, self._until = float(t), t + 60.0
        minutes = self._minutes
        if not minutes or minutes[-1].t != t:
            minutes.append(_Minute(t))
        self._minute = minutes[-1]
        day, days = utc_day(now), self._days  # (formatted once a minute, not once a message)
        if not days or days[-1].day != day:
            days.append(_Day(day))
        self._day = days[-1]

    def _forget_inactive(self, now: float) -> None:
        """Over :data:`MAX_ACTIVE`: drop the conversations gone quiet, else the oldest."""
        active, cutoff = self._active, now - ACTIVE_WINDOW
        for key in [k for k, at in active.items() if at < cutoff]:
            del active[key]
        if len(active) > MAX_ACTIVE:
            for key, _ in sorted(active.items(), key=lambda item: item[1])[
                : len(active) - MAX_ACTIVE
            ]:
                del active[key]


__all__ = [
    "ACTIVE_WINDOW",
    "DAYS",
    "MAX_ACTIVE",
    "MINUTES",
    "RECENT",
    "SAMPLES_PER_MINUTE",
    "Activity",
    "percentile",
]
