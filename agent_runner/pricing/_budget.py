"""Budgets and the running totals that enforce them before money is spent.

A :class:`Budget` caps spending per conversation, per UTC day and in total. The
:class:`BudgetLedger` keeps a process-local running total per budget scope, loaded once from
the store's cost ledger (``store.cost_sum``) the first time the scope is needed, then kept up
to date as costs are recorded. A check *reserves* the most a call could cost until the call's
cost is recorded, so concurrent requests cannot all slip under a limit together.

Scope: totals are read from the store once per scope and process; spending by other
processes sharing the store after that is not seen (budgets are exact for one process and
approximate across workers).
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from dataclasses import dataclass, field

from agent_runner.errors import BudgetExceededError, ConfigurationError
from agent_runner.store import Store

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


@dataclass(slots=True)
class _Total:
    spent: float = 0.0
    reserved: float = 0.0
    reservations: int = 0


@dataclass(slots=True)
class Reservation:
    """The most a checked call may cost, held against its scopes until it is recorded."""

    scopes: tuple[Scope, ...]
    amount: float


@dataclass(slots=True)
class BudgetLedger:
    """Running totals per scope for one store (see the module docstring).

    Args:
        store: where the cost ledger lives.
        max_scopes: how many scopes to keep in memory; idle ones (no reservation) are
            forgotten first and reloaded from the store when needed again.
    """

    store: Store
    max_scopes: int = 10_000
    _totals: OrderedDict[Scope, _Total] = field(default_factory=OrderedDict)
    _locks: dict[Scope, asyncio.Lock] = field(default_factory=dict)

    async def load(self, scopes: list[Scope]) -> None:
        """Make sure every scope's total is known (read from the store once)."""
        for scope in scopes:
            if scope in self._totals:
                self._totals.move_to_end(scope)
                continue
            lock = self._locks.setdefault(scope, asyncio.Lock())
            async with lock:
                if scope not in self._totals:
                    spent = await self._sum(scope)
                    self._totals[scope] = _Total(spent=spent)
            self._locks.pop(scope, None)
        self._evict(keep=set(scopes))

    async def _sum(self, scope: Scope) -> float:
        kind, key = scope
        if kind == "conversation":
            return await self.store.cost_sum(conversation_key=key)
        if kind == "day":
            return await self.store.cost_sum(day=key)
        return await self.store.cost_sum()

    def committed(self, scope: Scope) -> float:
        """Spent plus reserved in a loaded scope."""
        total = self._totals[scope]
        return total.spent + total.reserved

    def check(self, limits: list[tuple[Scope, float]], max_cost: float) -> None:
        """Raise BudgetExceededError if ``max_cost`` more breaks a limit (scopes loaded)."""
        for scope, limit in limits:
            error = exceeded(scope, limit, self.committed(scope), max_cost)
            if error is not None:
                raise error

    def reserve(self, limits: list[tuple[Scope, float]], max_cost: float) -> Reservation:
        """Check, then hold ``max_cost`` against every scope (no await in between)."""
        self.check(limits, max_cost)
        scopes = tuple(scope for scope, _ in limits)
        for scope in scopes:
            total = self._totals[scope]
            total.reserved += max_cost
            total.reservations += 1
        return Reservation(scopes, max_cost)

    def release(self, reservation: Reservation) -> None:
        """Drop a reservation (its call was recorded, or never made)."""
        for scope in reservation.scopes:
            total = self._totals.get(scope)
            if total is not None:
                total.reserved = max(0.0, total.reserved - reservation.amount)
                total.reservations = max(0, total.reservations - 1)

    def add(self, scopes: list[Scope], cost: float) -> None:
        """Count a recorded cost in loaded scopes (call before writing it to the store)."""
        for scope in scopes:
            total = self._totals.get(scope)
            if total is not None:
                total.spent += cost

    def _evict(self, *, keep: set[Scope]) -> None:
        if len(self._totals) <= self.max_scopes:
            return
        for scope in list(self._totals):
            if len(self._totals) <= self.max_scopes:
                break
            if scope not in keep and self._totals[scope].reservations == 0:
                del self._totals[scope]


__all__ = ["Budget", "BudgetLedger", "Reservation", "Scope", "exceeded"]
