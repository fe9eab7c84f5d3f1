"""The :class:`Pricing` the runner is given: prices, budgets and an optional payment gate."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from agent_runner.message import Message
from agent_runner.pricing._budget import Budget, BudgetLedger
from agent_runner.pricing._meter import RequestMeter, utc_day
from agent_runner.pricing._payment import PaymentGate, check_payment
from agent_runner.pricing._prices import ModelPrice, find_price
from agent_runner.store import Store


class Pricing:
    """Cost metering, budgets and payment gating for an agent. Every part is optional.

    Args:
        prices: model name -> price per million input/output tokens. A dated model name
            (``gpt-4o-2024-08-06``) uses the longest entry it starts with (``gpt-4o``).
        default_price: the price of models not in ``prices``. Without it, metering a model
            that has no price raises :class:`~agent_runner.errors.ConfigurationError` (from
            ``check``, before the call, or from ``record``): nothing is spent unpriced.
        budget: spending limits per conversation, per UTC day and in total.
        payment: a price per request, paid before the agent runs.
        clock: the time source (Unix seconds), for UTC days and stamps.

    Example:
        ::

            pricing = Pricing(
                prices={"gpt-4o-mini": ModelPrice(input_per_million=0.15,
                                                  output_per_million=0.60)},
                budget=Budget(per_conversation=0.05, per_day=5.0),
            )
            runtime = AgentRuntime(inputs, outputs, agent, pricing=pricing)
            # in the agent:
            await context.cost.check("gpt-4o-mini", input_tokens=900, max_output_tokens=400)
            ...  # call the model
            await context.cost.record("gpt-4o-mini", input_tokens=870, output_tokens=312)
    """

    def __init__(
        self,
        *,
        prices: Mapping[str, ModelPrice] | None = None,
        default_price: ModelPrice | None = None,
        budget: Budget | None = None,
        payment: PaymentGate | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.prices: dict[str, ModelPrice] = dict(prices or {})
        self.default_price = default_price
        self.budget = budget
        self.payment = payment
        self._clock = clock
        # keyed by identity (a store need not be hashable); the store is kept alive with it
        self._ledgers: dict[int, tuple[Store, BudgetLedger]] = {}

    def price_for(self, model: str) -> ModelPrice:
        """The price of ``model`` (raises ConfigurationError when it has none)."""
        return find_price(self.prices, model, self.default_price)

    def ledger(self, store: Store) -> BudgetLedger:
        """The running budget totals kept for ``store`` (one per store, shared by meters)."""
        entry = self._ledgers.get(id(store))
        if entry is None:
            entry = self._ledgers[id(store)] = (store, BudgetLedger(store, clock=self._clock))
        return entry[1]

    def meter(self, store: Store, *, request_key: str, conversation_key: str) -> RequestMeter:
        """The cost meter of one request (given to the agent as ``context.cost``)."""
        return RequestMeter(
            store=store,
            ledger=self.ledger(store),
            budget=self.budget,
            price_for=self.price_for,
            request_key=request_key,
            conversation_key=conversation_key,
            clock=self._clock,
        )

    async def check_budget(self, store: Store, conversation_key: str) -> None:
        """Raise BudgetExceededError if a budget of this conversation is already used up.

        The runner calls it before running the agent, to answer with its budget reply
        instead of starting work that cannot be paid for.
        """
        if self.budget is None:
            return
        limits = self.budget.limits(conversation_key, utc_day(self._clock()))
        if not limits:
            return
        await self.ledger(store).check(limits)

    async def check_payment(self, message: Message, store: Store) -> None:
        """Raise PaymentError unless no payment is required or ``message.payment`` is good.

        A good payment is verified by the gate's verifier and not used by another request;
        it is then marked used by this message (persisted: a restart does not allow a
        replay).
        """
        await check_payment(self.payment, message, store)


__all__ = ["Pricing"]
