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
    """Bounded recent activity of one runner (see the module doc)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, show_text: bool = False) -> None:
        self._clock = clock
        self.show_text = show_text
        self._minutes: deque[_Minute] = deque(maxlen=MINUTES)
        self._days: deque[_Day] = deque(maxlen=DAYS)
        self._active: dict[str, float] = {}
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self._day_start = 0.0

    def handled(self, message: Message, outcome: str, seconds: float) -> None:
        now = self._clock()
        minute = self._minute(now)
        minute.handled += 1
        if len(minute.samples) < SAMPLES_PER_MINUTE:
            minute.samples.append(seconds)
        day = self._day(now)
        day.messages += 1
        if outcome in ("error", "timeout"):
            minute.errors += 1
            day.errors += 1
        active = self._active
        active.pop(message.conversation_key, None)
        active[message.conversation_key] = now  # insertion order: oldest first
        if len(active) > MAX_ACTIVE:
            del active[next(iter(active))]
        self._recent.append(
            {
                "at": now,
                "key": message.key,
                "conversation": message.conversation_key,
                "outcome": outcome,
                "seconds": round(seconds, 4),
                "text": message.text
                if self.show_text
                else f"[redacted: {len(message.text)} chars]",
            }
        )

    def failed(self) -> None:
        now = self._clock()
        self._minute(now).errors += 1
        self._day(now).errors += 1

    def cost(self, amount: float) -> None:
        self._day(self._clock()).cost += amount

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
            "recent": list(reversed(self._recent)),
        }

    def _minute(self, now: float) -> _Minute:
        t = int(now // 60) * 60
        minutes = self._minutes
        if not minutes or minutes[-1].t != t:
            minutes.append(_Minute(t))
        return minutes[-1]

    def _day(self, now: float) -> _Day:
        days = self._days
        if days and self._day_start <= now < self._day_start + 86400:
            return days[-1]  # (no date formatting per message)
        day = utc_day(now)
        self._day_start = now - now % 86400
        if not days or days[-1].day != day:
            days.append(_Day(day))
        return days[-1]


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
