"""Budgets and the running totals that enforce them before money is spent.

A :class:`Budget` caps spending per conversation, per UTC day and in total. The
:class:`BudgetLedger` keeps one running total per budget scope in the store's shared counters
(:class:`~agent_runner.store.SharedCounters`): in the Redis store a Lua script, in the SQLite
store one transaction on the file, in the in-memory store a dict. A check *reserves* (holds)
the most a call could cost, atomically against every scope, until the call's cost is recorded
(the hold becomes the real cost) or the call fails (the hold is released; a hold whose process
died stops counting after ``hold_ttl``). So concurrent requests, in one process or in many
sharing the store, cannot together go over a limit.

A counter that does not exist yet (first use, or lost with a Redis restart) is seeded from the
cost ledger (``store.cost_sum``) before anything is taken. When the store cannot be reached
the check raises :class:`~agent_runner.errors.StoreError`: no model call is made (fail
closed). A day's counter is named after its UTC day, so the daily budget starts again at
midnight UTC; it is dropped a day after its day ended.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from agent_runner.errors import BudgetExceededError, ConfigurationError, StoreError
from agent_runner.store import Store, counters_for

Scope = tuple[str, str]
"""``("conversation", key)``, ``("day", "YYYY-MM-DD")`` or ``("total", "")``."""

_LABELS = {"conversation": "per-conversation", "day": "daily", "total": "total"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """Spending limits, in the currency of the price table. None means no limit.

    Args:
        per_conversation: the most one conversation may cost, ever.
        per_day: the most all conversations together may cost per UTC day.
        total: the most everything may cost, ever.

    Example:
        >>> Budget(per_conversation=0.50, per_day=20.0)
        Budget(per_conversation=0.5, per_day=20.0, total=None)
    """

    per_conversation: float | None = None
    per_day: float | None = None
    total: float | None = None

    def __post_init__(self) -> None:
        for name in ("per_conversation", "per_day", "total"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, int | float) or not math.isfinite(value) or value < 0
            ):
                raise ConfigurationError(f"Budget.{name} must be a number >= 0, not {value!r}")

    def limits(self, conversation_key: str, day: str) -> list[tuple[Scope, float]]:
        """The scopes this budget limits for one request, with their limits."""
        limits: list[tuple[Scope, float]] = []
        if self.per_conversation is not None:
            limits.append((("conversation", conversation_key), self.per_conversation))
        if self.per_day is not None:
            limits.append((("day", day), self.per_day))
        if self.total is not None:
            limits.append((("total", ""), self.total))
        return limits


def exceeded(
    scope: Scope, limit: float, spent: float, max_cost: float
) -> BudgetExceededError | None:
    """The error to raise when spending ``max_cost`` more would break ``limit``, else None.

    A budget that is used up (``spent >= limit``) refuses even a call of unknown cost.

    Example:
        >>> exceeded(("day", "2026-01-01"), 1.0, 0.5, 0.25) is None
        True
        >>> exceeded(("day", "2026-01-01"), 1.0, 0.9, 0.25).scope
        'day'
    """
    kind, _ = scope
    label = _LABELS[kind]
    if spent >= limit:
        return BudgetExceededError(
            f"the {label} budget of {limit:.4g} is used up ({spent:.4g} spent)",
            scope=kind,
            limit=limit,
            spent=spent,
        )
    if spent + max_cost > limit:
        return BudgetExceededError(
            f"this call could cost up to {max_cost:.4g}, over the {label} budget of "
            f"{limit:.4g} ({spent:.4g} spent)",
            scope=kind,
            limit=limit,
            spent=spent,
        )
    return None


@dataclass(frozen=True, slots=True)
class Reservation:
    """The most a checked call may cost, held against its scopes until it is recorded."""

    scopes: tuple[Scope, ...]
    amount: float
    hold: str
    """The id of the hold in the shared counters."""


def counter_name(scope: Scope) -> str:
    """The shared counter of a budget scope.

    Example:
        >>> counter_name(("day", "2026-01-01"))
        'budget:day:2026-01-01'
    """
    kind, key = scope
    return f"budget:{kind}:{key}"


def _lifetime(scope: Scope, now: float) -> float | None:
    """A day's counter is dropped a day after its day ends; the others are kept."""
    kind, key = scope
    if kind != "day":
        return None
    start = datetime.strptime(key, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    return max(60.0, start + 2 * 86_400 - now)


class BudgetLedger:
    """Budget totals in the store's shared counters (see the module docstring).

    Args:
        store: where the cost ledger lives; its shared counters
            (:func:`~agent_runner.store.counters_for`) hold the totals.
        hold_ttl: seconds a reservation counts when its call is never recorded nor released
            (its process died).
        clock: the time source (Unix seconds) of the UTC days.
    """

    def __init__(
        self, store: Store, *, hold_ttl: float = 900.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.counters = counters_for(store)
        self.hold_ttl = hold_ttl
        self._clock = clock

    async def _sum(self, scope: Scope) -> float:
        kind, key = scope
        if kind == "conversation":
            return await self.store.cost_sum(conversation_key=key)
        if kind == "day":
            return await self.store.cost_sum(day=key)
        return await self.store.cost_sum()

    async def _take(
        self, limits: list[tuple[Scope, float]], amount: float, hold: str | None
    ) -> None:
        scopes = {counter_name(scope): scope for scope, _ in limits}
        named = {counter_name(scope): limit for scope, limit in limits}
        for _ in range(len(named) + 2):  # every missing counter is seeded once, then taken
            ttl = self.hold_ttl if hold is not None else None
            refusal = await self.counters.take(named, amount, hold=hold, ttl=ttl, seeded=True)
            if refusal is None:
                return
            scope = scopes[refusal.name]
            if not refusal.missing:
                error = exceeded(scope, refusal.limit, refusal.value, amount)
                raise error or BudgetExceededError(
                    f"the {_LABELS[scope[0]]} budget refused",
                    scope=scope[0],
                    limit=refusal.limit,
                    spent=refusal.value,
                )
            spent = await self._sum(scope)
            lifetime = _lifetime(scope, self._clock())
            await self.counters.seed({refusal.name: spent}, expires_in=lifetime)
        raise StoreError("budget counters kept disappearing while being seeded")

    async def check(self, limits: list[tuple[Scope, float]]) -> None:
        """Raise BudgetExceededError when a limit is used up (nothing reserved)."""
        await self._take(limits, 0.0, None)

    async def reserve(self, limits: list[tuple[Scope, float]], max_cost: float) -> Reservation:
        """Hold ``max_cost`` against every scope, or raise BudgetExceededError (atomically)."""
        hold = uuid.uuid4().hex
        await self._take(limits, max_cost, hold)
        return Reservation(tuple(scope for scope, _ in limits), max_cost, hold)

    async def settle(
        self, reservation: Reservation | None, scopes: list[Scope], cost: float
    ) -> None:
        """Count a recorded ``cost`` in ``scopes``, ending ``reservation`` (call after the
        cost is in the store's cost ledger: a counter seeded meanwhile then counts it)."""
        names = {counter_name(scope) for scope in scopes}
        if reservation is not None:
            names |= {counter_name(scope) for scope in reservation.scopes}
        hold = None if reservation is None else reservation.hold
        await self.counters.settle(hold, sorted(names), cost if scopes else 0.0)

    async def release(self, reservation: Reservation) -> None:
        """Drop a reservation whose call was never made or never recorded."""
        names = [counter_name(scope) for scope in reservation.scopes]
        await self.counters.settle(reservation.hold, names)


__all__ = ["Budget", "BudgetLedger", "Reservation", "Scope", "counter_name", "exceeded"]
