"""Cost meters: one per request, pricing its model calls and holding its budget reservations.

The agent (or the LLM client) calls ``await context.cost.check(model, input_tokens=...,
max_output_tokens=...)`` before a model call and ``await context.cost.record(model,
input_tokens=..., output_tokens=...)`` after it::

    await context.cost.check("gpt-4o", input_tokens=1200, max_output_tokens=500)
    response = await client.create(...)
    await context.cost.record("gpt-4o", input_tokens=usage.prompt_tokens,
                              output_tokens=usage.completion_tokens)

:class:`NullMeter` is the meter when pricing is off: it checks nothing and records nothing.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from agent_runner.errors import StoreError
from agent_runner.pricing._budget import Budget, BudgetLedger, Reservation
from agent_runner.pricing._prices import ModelPrice
from agent_runner.store import CostEntry, Store

_log = logging.getLogger(__name__)


def utc_day(at: float) -> str:
    """The UTC day of a Unix time, ``YYYY-MM-DD``.

    Example:
        >>> utc_day(0.0)
        '1970-01-01'
    """
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


class NullMeter:
    """The meter when pricing is off: no budget, nothing recorded, costs nothing."""

    async def check(self, model: str, *, input_tokens: int = 0, max_output_tokens: int = 0) -> None:
        return None

    async def record(self, model: str, *, input_tokens: int, output_tokens: int) -> float:
        return 0.0

    @property
    def spent(self) -> float:
        return 0.0


class RequestMeter:
    """The :class:`~agent_runner.agent.CostMeter` of one request (made by ``Pricing.meter``).

    ``check`` prices the most a call could cost (its input tokens and ``max_output_tokens``)
    and raises :class:`~agent_runner.errors.BudgetExceededError` if that could break a
    budget; otherwise it reserves that amount. ``record`` prices the actual usage, writes a
    :class:`~agent_runner.store.CostEntry`, then settles the oldest open reservation at the
    real cost.

    Raises:
        ConfigurationError: from ``check`` and ``record`` when the model has no price and
            Pricing has no ``default_price`` (raised by ``check`` before any money is spent).
    """

    def __init__(
        self,
        *,
        store: Store,
        ledger: BudgetLedger,
        budget: Budget | None,
        price_for: Callable[[str], ModelPrice],
        request_key: str,
        conversation_key: str,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._budget = budget
        self._price_for = price_for
        self.request_key = request_key
        self.conversation_key = conversation_key
        self._clock = clock
        self._spent = 0.0
        self.input_tokens = 0
        """Input tokens recorded in this request so far (output_tokens: the output's)."""
        self.output_tokens = 0
        self._open: deque[Reservation] = deque()
        # A request that ends with calls checked but never recorded (the call failed) frees
        # its reservations when the meter is dropped; ``release()`` does it explicitly.
        weakref.finalize(self, _release_dropped, ledger, self._open)

    @property
    def spent(self) -> float:
        """What this request has cost so far."""
        return self._spent

    async def check(self, model: str, *, input_tokens: int = 0, max_output_tokens: int = 0) -> None:
        """Refuse a call that could break a budget; otherwise reserve its maximum cost.

        Pass ``max_output_tokens`` (the ``max_tokens`` of the call): without it only the
        input is counted and the call may end up over the budget.
        """
        max_cost = self._price_for(model).cost(input_tokens, max_output_tokens)
        if self._budget is None:
            return
        limits = self._budget.limits(self.conversation_key, utc_day(self._clock()))
        if not limits:
            return
        self._open.append(await self._ledger.reserve(limits, max_cost))

    async def record(self, model: str, *, input_tokens: int, output_tokens: int) -> float:
        """Price the usage, record it per request, conversation and day; return the cost."""
        price = self._price_for(model)
        cost = price.cost(input_tokens, output_tokens)
        at = self._clock()
        day = utc_day(at)
        self._spent += cost
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        await self._store.cost_add(
            CostEntry(
                request_key=self.request_key,
                conversation_key=self.conversation_key,
                model=model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost=cost,
                day=day,
                at=at,
            )
        )
        if self._budget is not None:
            scopes = [scope for scope, _ in self._budget.limits(self.conversation_key, day)]
            reservation = self._open.popleft() if self._open else None
            await self._ledger.settle(reservation, scopes, cost)
        return cost

    async def release(self) -> None:
        """Drop reservations of checked calls that were never recorded (a failed call)."""
        await _release_all(self._ledger, self._open)


_releasing: set[asyncio.Task[None]] = set()


async def _release_all(ledger: BudgetLedger, reservations: deque[Reservation]) -> None:
    while reservations:
        try:
            await ledger.release(reservations.popleft())
        except StoreError as exc:  # its hold stops counting after the ledger's hold_ttl
            _log.warning("could not release a budget reservation: %s", exc)


def _release_dropped(ledger: BudgetLedger, reservations: deque[Reservation]) -> None:
    """A meter was dropped with reservations open: release them in a task (if a loop runs;
    otherwise their holds stop counting after the ledger's ``hold_ttl``)."""
    if not reservations:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    task = loop.create_task(_release_all(ledger, reservations))
    _releasing.add(task)
    task.add_done_callback(_releasing.discard)


__all__ = ["NullMeter", "RequestMeter", "utc_day"]
