"""Cost metering and budgets: recorded per request, conversation and day; stopped before."""

from __future__ import annotations

import asyncio
import gc

import pytest

from agent_runner.agent import CostMeter
from agent_runner.errors import BudgetExceededError, ConfigurationError
from agent_runner.pricing import Budget, ModelPrice, NullMeter, Pricing, utc_day
from agent_runner.pricing._budget import exceeded
from agent_runner.store import CostEntry, InMemoryStore

DAY1 = 1_763_683_200.0  # 2025-11-21 00:00:00 UTC
PRICES = {"m": ModelPrice(input_per_million=1_000_000.0, output_per_million=2_000_000.0)}
# with these prices one input token costs 1.0 and one output token 2.0: easy arithmetic


class Clock:
    def __init__(self, now: float = DAY1 + 3600) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def pricing(budget: Budget | None = None, clock: Clock | None = None, **kw: object) -> Pricing:
    return Pricing(prices=PRICES, budget=budget, clock=clock or Clock(), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("limit", "spent", "max_cost", "error"),
    [
        (10.0, 0.0, 10.0, None),  # exactly the limit is allowed
        (10.0, 0.0, 10.5, "could cost up to 10.5, over the daily budget of 10"),
        (10.0, 9.0, 0.0, None),
        (10.0, 10.0, 0.0, "daily budget of 10 is used up (10 spent)"),
        (0.0, 0.0, 0.0, "used up"),
    ],
)
def test_exceeded(limit: float, spent: float, max_cost: float, error: str | None) -> None:
    result = exceeded(("day", "2025-11-21"), limit, spent, max_cost)
    if error is None:
        assert result is None
    else:
        assert result is not None and error in str(result)
        assert (result.scope, result.limit, result.spent) == ("day", limit, spent)


@pytest.mark.parametrize("bad", [{"per_day": -1.0}, {"total": float("nan")}])
def test_bad_budget(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        Budget(**bad)


def test_utc_day() -> None:
    assert utc_day(DAY1) == "2025-11-21"
    assert utc_day(DAY1 - 1) == "2025-11-20"


async def test_record_writes_a_cost_entry_per_request_conversation_and_day() -> None:
    store = InMemoryStore()
    meter = pricing().meter(store, request_key="http:1", conversation_key="http:c1")
    assert isinstance(meter, CostMeter)
    assert await meter.record("m", input_tokens=2, output_tokens=1) == 4.0
    assert await meter.record("m-2025-01-01", input_tokens=1, output_tokens=0) == 1.0
    assert meter.spent == 5.0
    assert store._costs == [
        CostEntry("http:1", "http:c1", "m", 2, 1, 4.0, "2025-11-21", DAY1 + 3600),
        CostEntry("http:1", "http:c1", "m-2025-01-01", 1, 0, 1.0, "2025-11-21", DAY1 + 3600),
    ]
    assert await store.cost_sum(conversation_key="http:c1", day="2025-11-21") == 5.0


async def test_unknown_model_fails_before_spending() -> None:
    meter = pricing().meter(InMemoryStore(), request_key="r", conversation_key="c")
    with pytest.raises(ConfigurationError, match="no price for model 'other'"):
        await meter.check("other", input_tokens=1, max_output_tokens=1)
    with pytest.raises(ConfigurationError):
        await meter.record("other", input_tokens=1, output_tokens=1)


async def test_default_price_for_unknown_models() -> None:
    p = pricing(default_price=ModelPrice(0.0, 1_000_000.0))
    meter = p.meter(InMemoryStore(), request_key="r", conversation_key="c")
    assert await meter.record("other", input_tokens=5, output_tokens=3) == 3.0


async def test_per_conversation_budget_stops_before_it_is_exceeded() -> None:
    store = InMemoryStore()
    p = pricing(Budget(per_conversation=10.0))
    meter = p.meter(store, request_key="r1", conversation_key="alice")
    await meter.check("m", input_tokens=2, max_output_tokens=3)  # up to 8.0
    await meter.record("m", input_tokens=2, output_tokens=2)  # 6.0
    with pytest.raises(BudgetExceededError) as info:
        await meter.check("m", input_tokens=1, max_output_tokens=2)  # up to 5.0: 11 > 10
    assert (info.value.scope, info.value.limit, info.value.spent) == ("conversation", 10.0, 6.0)
    await meter.check("m", input_tokens=2, max_output_tokens=1)  # 4.0 fits exactly
    # another conversation has its own budget
    other = p.meter(store, request_key="r2", conversation_key="bob")
    await other.check("m", input_tokens=2, max_output_tokens=4)


async def test_daily_budget_resets_with_the_utc_day() -> None:
    store = InMemoryStore()
    clock = Clock()
    p = pricing(Budget(per_day=5.0), clock)
    meter = p.meter(store, request_key="r1", conversation_key="a")
    await meter.record("m", input_tokens=5, output_tokens=0)
    with pytest.raises(BudgetExceededError, match="daily budget of 5 is used up"):
        await p.check_budget(store, "b")
    clock.now = DAY1 + 86_400 + 1  # next UTC day
    await p.check_budget(store, "b")
    await p.meter(store, request_key="r2", conversation_key="b").check("m", input_tokens=5)


async def test_total_budget() -> None:
    store = InMemoryStore()
    p = pricing(Budget(total=3.0))
    for n in range(3):
        await p.meter(store, request_key=f"r{n}", conversation_key=f"c{n}").record(
            "m", input_tokens=1, output_tokens=0
        )
    with pytest.raises(BudgetExceededError) as info:
        await p.check_budget(store, "c9")
    assert info.value.scope == "total"


async def test_totals_are_loaded_from_the_store() -> None:
    store = InMemoryStore()
    await store.cost_add(CostEntry("old", "alice", "m", 9, 0, 9.0, "2025-11-21", DAY1))
    p = pricing(Budget(per_conversation=10.0))  # a fresh process: nothing in memory
    meter = p.meter(store, request_key="r", conversation_key="alice")
    with pytest.raises(BudgetExceededError) as info:
        await meter.check("m", input_tokens=2)
    assert info.value.spent == 9.0
    await meter.check("m", input_tokens=1)


async def test_concurrent_requests_cannot_all_slip_under_the_limit() -> None:
    store = InMemoryStore()
    p = pricing(Budget(per_day=10.0))
    meters = [p.meter(store, request_key=f"r{n}", conversation_key=f"c{n}") for n in range(10)]
    results = await asyncio.gather(
        *(m.check("m", input_tokens=1, max_output_tokens=1) for m in meters),  # 3.0 each
        return_exceptions=True,
    )
    allowed = [m for m, r in zip(meters, results, strict=True) if r is None]
    assert len(allowed) == 3
    assert all(isinstance(r, BudgetExceededError) for r in results if r is not None)
    # settling at the real cost frees the rest of each reservation
    for m in allowed:
        await m.record("m", input_tokens=1, output_tokens=0)  # 1.0 instead of 3.0
    await meters[3].check("m", input_tokens=1, max_output_tokens=1)
    await meters[4].check("m", input_tokens=1, max_output_tokens=1)
    with pytest.raises(BudgetExceededError):
        await meters[5].check("m", input_tokens=1, max_output_tokens=1)


async def test_reservations_of_calls_never_recorded_are_released() -> None:
    store = InMemoryStore()
    p = pricing(Budget(per_day=4.0))
    meter = p.meter(store, request_key="r1", conversation_key="c")
    await meter.check("m", input_tokens=3)  # the call then fails: never recorded
    with pytest.raises(BudgetExceededError):
        await p.meter(store, request_key="r2", conversation_key="c").check("m", input_tokens=3)
    await meter.release()
    await p.meter(store, request_key="r3", conversation_key="c").check("m", input_tokens=3)


async def test_a_dropped_meter_releases_its_reservations() -> None:
    store = InMemoryStore()
    p = pricing(Budget(per_day=4.0))
    meter = p.meter(store, request_key="r1", conversation_key="c")
    await meter.check("m", input_tokens=3)
    del meter
    gc.collect()
    await asyncio.sleep(0)  # the release runs in a task
    await p.meter(store, request_key="r2", conversation_key="c").check("m", input_tokens=3)


async def test_check_budget_without_budget_and_null_meter() -> None:
    store = InMemoryStore()
    await pricing().check_budget(store, "c")
    null = NullMeter()
    assert isinstance(null, CostMeter)
    await null.check("anything", input_tokens=10**9, max_output_tokens=10**9)
    assert await null.record("anything", input_tokens=1, output_tokens=1) == 0.0
    assert null.spent == 0.0
    assert await store.cost_sum() == 0.0
