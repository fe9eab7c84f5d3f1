"""Shared counters: limits (budgets, daily caps, rate windows) exact across processes.

A counter is a number under a name. :meth:`SharedCounters.take` adds an amount to several
counters at once only when none of them would go over its limit: all or none, atomically
across every process that shares the store. Three uses, one primitive:

- **budgets** reserve-then-settle: ``take(..., hold=id, ttl=...)`` counts an estimate as
  *held* before a model call; ``settle(id, names, cost)`` replaces it with the real cost
  after the call, or with nothing (``settle(id, names)``) when the call failed. A hold that
  is never settled (its process died) stops counting after its ``ttl``;
- **daily caps** check-and-increment: ``take({"x:posts:2026-01-01": 17}, 1,
  expires_in=until_the_day_is_over)``;
- **rate windows**: a fixed window is a counter named after the window, expiring with it.

A counter's value is its settled amount plus its unexpired holds. A counter created with
``expires_in`` disappears that many seconds later, by the store's clock (Redis's own for
:class:`~agent_runner.distributed.RedisStore`: the replicas' clocks do not matter).
``take(..., seeded=True)`` refuses a counter that does not exist yet with ``missing=True``:
the caller seeds it (:meth:`~SharedCounters.seed`; budgets seed from the cost ledger) and
takes again.

Implementations: :class:`InMemoryCounters` (one process; the counters of
:class:`~agent_runner.store.InMemoryStore` and of stores without their own),
``SQLiteCounters`` (one transaction per call: processes sharing the file) and
``RedisCounters`` (one Lua script per call). :func:`counters_for` finds a store's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why :meth:`SharedCounters.take` added nothing: counter ``name`` would go over."""

    name: str
    value: float
    """The counter's value when refused (settled plus held)."""
    limit: float
    missing: bool = False
    """The counter does not exist and ``seeded=True`` was asked: seed it, then take again."""


def refuses(value: float, amount: float, limit: float) -> bool:
    """Whether adding ``amount`` to ``value`` breaks ``limit`` (a used-up limit refuses 0).

    Example:
        >>> refuses(16, 1, 17), refuses(17, 1, 17), refuses(17, 0, 17)
        (False, True, True)
    """
    return value >= limit or value + amount > limit


@runtime_checkable
class SharedCounters(Protocol):
    """Counters with limits, atomic across every process sharing them (module docstring)."""

    async def take(
        self,
        limits: Mapping[str, float],
        amount: float,
        *,
        hold: str | None = None,
        ttl: float | None = None,
        expires_in: float | None = None,
        seeded: bool = False,
    ) -> Refusal | None:
        """Add ``amount`` to every counter of ``limits`` unless one would go over its limit.

        Args:
            limits: counter name -> the most it may count.
            amount: what to add (0 checks only: a used-up limit still refuses).
            hold: count ``amount`` as held by this id until :meth:`settle` (or ``ttl``).
            ttl: seconds a hold counts when never settled (required with ``hold``).
            expires_in: seconds after which counters this call creates disappear.
            seeded: refuse a counter that does not exist (``Refusal.missing``).

        Returns:
            None when added; else the first counter that refused, nothing added.
        """
        ...

    async def settle(self, hold: str | None, names: Sequence[str], amount: float = 0.0) -> None:
        """End ``hold`` (if any) on ``names`` and add ``amount`` to those that exist."""
        ...

    async def seed(self, values: Mapping[str, float], *, expires_in: float | None = None) -> None:
        """Create each counter with its value, unless it exists already."""
        ...

    async def value(self, name: str) -> float | None:
        """The counter's value (settled plus held), or None when it does not exist."""
        ...


@dataclass(slots=True)
class _Counter:
    settled: float = 0.0
    expires_at: float | None = None
    holds: dict[str, tuple[float, float]] = field(default_factory=dict)
    """hold id -> (amount, expires at)."""

    def value(self, now: float) -> float:
        for hold, (_, until) in list(self.holds.items()):
            if until <= now:
                del self.holds[hold]
        return self.settled + sum(amount for amount, _ in self.holds.values())


class InMemoryCounters:
    """:class:`SharedCounters` in process memory: exact among the tasks of one process.

    No method awaits, so each call is atomic for the event loop.

    Args:
        clock: the time source (Unix seconds) for expiries.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counters: dict[str, _Counter] = {}

    def _get(self, name: str, now: float) -> _Counter | None:
        counter = self._counters.get(name)
        if counter is not None and counter.expires_at is not None and counter.expires_at <= now:
            del self._counters[name]
            return None
        return counter

    async def take(
        self,
        limits: Mapping[str, float],
        amount: float,
        *,
        hold: str | None = None,
        ttl: float | None = None,
        expires_in: float | None = None,
        seeded: bool = False,
    ) -> Refusal | None:
        hold_until = _hold_until(hold, ttl, self._clock())
        now = self._clock()
        for name, limit in limits.items():
            counter = self._get(name, now)
            if counter is None and seeded:
                return Refusal(name, 0.0, limit, missing=True)
            value = 0.0 if counter is None else counter.value(now)
            if refuses(value, amount, limit):
                return Refusal(name, value, limit)
        for name in limits:
            counter = self._get(name, now)
            if counter is None:
                counter = self._counters[name] = _Counter(expires_at=_at(now, expires_in))
            if hold is None:
                counter.settled += amount
            else:
                counter.holds[hold] = (amount, hold_until)
        return None

    async def settle(self, hold: str | None, names: Sequence[str], amount: float = 0.0) -> None:
        now = self._clock()
        for name in names:
            counter = self._get(name, now)
            if counter is not None:
                if hold is not None:
                    counter.holds.pop(hold, None)
                counter.settled += amount

    async def seed(self, values: Mapping[str, float], *, expires_in: float | None = None) -> None:
        now = self._clock()
        for name, value in values.items():
            if self._get(name, now) is None:
                self._counters[name] = _Counter(settled=value, expires_at=_at(now, expires_in))

    async def value(self, name: str) -> float | None:
        now = self._clock()
        counter = self._get(name, now)
        return None if counter is None else counter.value(now)


def _at(now: float, expires_in: float | None) -> float | None:
    return None if expires_in is None else now + expires_in


def _hold_until(hold: str | None, ttl: float | None, now: float) -> float:
    """When a hold stops counting; ValueError for a hold without a positive ttl."""
    if hold is None:
        return 0.0
    if ttl is None or not ttl > 0:
        raise ValueError(f"a hold needs a positive ttl in seconds, not {ttl!r}")
    return now + ttl


def counters_for(store: object) -> SharedCounters:
    """The shared counters of ``store``: its own (``store.counters()``) when it has them.

    A store without them (a third-party one) gets new process-local :class:`InMemoryCounters`
    (keep them with the store): limits are then exact within one process only.
    """
    own = getattr(store, "counters", None)
    if callable(own):
        counters = own()
        if isinstance(counters, SharedCounters):
            return counters
    return InMemoryCounters()


__all__ = ["InMemoryCounters", "Refusal", "SharedCounters", "counters_for", "refuses"]
