"""Shared counters, one contract for every store: all-or-none takes under a limit, holds that
settle or expire, windows that expire, seeding; exact under concurrency."""

from __future__ import annotations

import asyncio
import time

import pytest

from agent_runner.store import (
    InMemoryCounters,
    InMemoryStore,
    Refusal,
    SharedCounters,
    Store,
    counters_for,
)


def counters(store: Store) -> SharedCounters:
    shared = counters_for(store)
    assert isinstance(shared, SharedCounters)
    return shared


async def test_a_take_adds_to_every_counter_or_to_none(shared_store: Store) -> None:
    c = counters(shared_store)
    assert await c.take({"a": 3, "b": 5}, 2) is None
    assert await c.value("a") == 2 and await c.value("b") == 2
    refused = await c.take({"b": 5, "a": 3}, 2)  # a would be 4 > 3
    assert refused == Refusal("a", 2.0, 3)
    assert await c.value("b") == 2  # nothing added to b either
    assert await c.take({"a": 3}, 1) is None  # exactly the limit fits
    assert await c.take({"a": 3}, 0) == Refusal("a", 3.0, 3)  # used up refuses even 0
    assert await c.value("never") is None


async def test_holds_count_until_settled_at_the_real_amount(shared_store: Store) -> None:
    c = counters(shared_store)
    assert await c.take({"budget": 10}, 6, hold="h1", ttl=60) is None
    assert await c.take({"budget": 10}, 6, hold="h2", ttl=60) == Refusal("budget", 6.0, 10)
    await c.settle("h1", ["budget"], 2.5)  # the call cost less than its estimate
    assert await c.value("budget") == 2.5
    assert await c.take({"budget": 10}, 6, hold="h2", ttl=60) is None
    await c.settle("h2", ["budget"])  # the call failed: released, nothing spent
    assert await c.value("budget") == 2.5


async def test_a_hold_never_settled_stops_counting_after_its_ttl(shared_store: Store) -> None:
    c = counters(shared_store)
    assert await c.take({"budget": 1}, 1, hold="dead", ttl=0.05) is None
    deadline = time.monotonic() + 20
    while await c.take({"budget": 1}, 1, hold="next", ttl=60) is not None:
        assert time.monotonic() < deadline, "the dead process's hold never expired"
        await asyncio.sleep(0.02)


async def test_a_window_counter_resets_when_it_expires(shared_store: Store) -> None:
    c = counters(shared_store)
    assert await c.take({"window": 2}, 2, expires_in=0.2) is None
    assert await c.take({"window": 2}, 1, expires_in=0.2) is not None
    deadline = time.monotonic() + 20
    while await c.take({"window": 2}, 1, expires_in=60) is not None:
        assert time.monotonic() < deadline, "the window never reset"
        await asyncio.sleep(0.02)
    assert await c.value("window") == 1


async def test_seeded_takes_refuse_a_missing_counter_until_it_is_seeded(
    shared_store: Store,
) -> None:
    c = counters(shared_store)
    assert await c.take({"spend": 10}, 1, seeded=True) == Refusal("spend", 0.0, 10, missing=True)
    assert await c.value("spend") is None
    await c.seed({"spend": 7.5})
    await c.seed({"spend": 0.0})  # exists already: left as it is
    assert await c.take({"spend": 10}, 2.5, seeded=True) is None
    assert await c.value("spend") == 10


async def test_settle_counts_only_in_counters_that_exist(shared_store: Store) -> None:
    c = counters(shared_store)
    await c.settle(None, ["absent"], 5)
    assert await c.value("absent") is None
    await c.seed({"present": 1})
    await c.settle(None, ["present", "absent"], 5)
    assert await c.value("present") == 6


async def test_concurrent_takes_never_go_over_the_limit(shared_store: Store) -> None:
    c = counters(shared_store)
    results = await asyncio.gather(*(c.take({"x:posts": 17}, 1) for _ in range(60)))
    assert sum(r is None for r in results) == 17
    assert await c.value("x:posts") == 17


async def test_a_hold_needs_a_ttl(shared_store: Store) -> None:
    with pytest.raises(ValueError, match="positive ttl"):
        await counters(shared_store).take({"a": 1}, 1, hold="h")


def test_a_store_without_counters_gets_process_local_ones() -> None:
    assert isinstance(counters_for(object()), InMemoryCounters)
    store = InMemoryStore()
    assert counters_for(store) is counters_for(store)
