"""The lease part of the Store contract, written once and run against every store.

Mixed into each store's contract class beside :class:`~tests.store.contract.StoreContract`;
needs the same ``store`` fixture. Expiry is real time with short ttls, waited for by polling
(never by asserting how long it took).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from agent_runner.errors import LeaseLostError
from agent_runner.store import Fence, Store

SHORT = 0.05
"""A ttl that expires quickly."""
LONG = 60.0
"""A ttl that outlives any test."""


async def wait_acquire(store: Store, name: str, holder: str) -> int:
    """Poll until ``holder`` gets lease ``name`` (after another holding expired)."""
    deadline = time.monotonic() + 20.0
    while (token := await store.lease_acquire(name, holder, LONG)) is None:
        assert time.monotonic() < deadline, f"{holder} never got lease {name!r}"
        await asyncio.sleep(0.02)
    return token


class LeaseContract:
    """Leases: one holder at a time, fencing tokens that only grow, fenced cursor writes."""

    async def test_one_holder_at_a_time(self, store: Store) -> None:
        assert await store.lease_holder("input:telegram") is None
        token = await store.lease_acquire("input:telegram", "replica-a", LONG)
        assert token is not None and token > 0
        assert await store.lease_acquire("input:telegram", "replica-b", LONG) is None
        held = await store.lease_holder("input:telegram")
        assert held is not None
        assert (held.holder, held.token) == ("replica-a", token)
        assert held.expires_at > time.time() + LONG / 2
        # Another lease is independent.
        assert await store.lease_acquire("input:x", "replica-b", LONG) is not None

    async def test_renewal_keeps_the_token(self, store: Store) -> None:
        token = await store.lease_acquire("l", "a", SHORT)
        assert await store.lease_acquire("l", "a", LONG) == token
        assert await store.lease_acquire("l", "a", LONG) == token
        held = await store.lease_holder("l")
        assert held is not None and held.expires_at > time.time() + LONG / 2

    async def test_release_only_by_the_holder(self, store: Store) -> None:
        first = await store.lease_acquire("l", "a", LONG)
        await store.lease_release("l", "b")  # not the holder: no effect
        await store.lease_release("nobody-holds-this", "a")  # harmless
        assert await store.lease_acquire("l", "b", LONG) is None
        await store.lease_release("l", "a")
        assert await store.lease_holder("l") is None
        second = await store.lease_acquire("l", "b", LONG)
        assert first is not None and second is not None and second > first

    async def test_expired_lease_is_taken_over_with_a_greater_token(self, store: Store) -> None:
        first = await store.lease_acquire("l", "a", SHORT)
        second = await wait_acquire(store, "l", "b")
        assert first is not None and second > first
        assert await store.lease_acquire("l", "a", LONG) is None
        held = await store.lease_holder("l")
        assert held is not None and held.holder == "b"

    async def test_tokens_never_reused(self, store: Store) -> None:
        tokens = []
        for n in range(4):  # released, then expired, alternately; the same holder again too
            holder = "a" if n < 2 else f"h{n}"
            tokens.append(await wait_acquire(store, "l", holder))
            if n % 2 == 0:
                await store.lease_release("l", holder)
            else:
                assert await store.lease_acquire("l", holder, SHORT) == tokens[-1]
        assert tokens == sorted(set(tokens)), tokens

    async def test_concurrent_acquirers_one_wins(self, store: Store) -> None:
        tokens = await asyncio.gather(
            *(store.lease_acquire("l", f"replica-{n}", LONG) for n in range(50))
        )
        winners = [n for n, token in enumerate(tokens) if token is not None]
        assert len(winners) == 1
        held = await store.lease_holder("l")
        assert held is not None and held.holder == f"replica-{winners[0]}"

    async def test_ttl_must_be_positive(self, store: Store) -> None:
        for ttl in (0, -1.0, float("nan")):
            with pytest.raises(ValueError, match="ttl"):
                await store.lease_acquire("l", "a", ttl)
        assert await store.lease_holder("l") is None

    # -- fencing ---------------------------------------------------------------------
    async def test_fenced_cursor_write_while_held(self, store: Store) -> None:
        token = await store.lease_acquire("input:x", "a", LONG)
        assert token is not None
        await store.cursor_set("x:since_id", "10", fence=Fence("input:x", token))
        assert await store.cursor_get("x:since_id") == "10"

    async def test_fenced_write_refused_after_takeover(self, store: Store) -> None:
        old = await store.lease_acquire("input:x", "a", SHORT)
        assert old is not None
        await store.cursor_set("x:since_id", "10", fence=Fence("input:x", old))
        new = await wait_acquire(store, "input:x", "b")
        # "a" was paused past its ttl and does not know: its write must not land.
        with pytest.raises(LeaseLostError) as refused:
            await store.cursor_set("x:since_id", "5", fence=Fence("input:x", old))
        assert (refused.value.lease, refused.value.token) == ("input:x", old)
        assert await store.cursor_get("x:since_id") == "10"
        await store.cursor_set("x:since_id", "20", fence=Fence("input:x", new))
        assert await store.cursor_get("x:since_id") == "20"

    async def test_fenced_write_refused_after_release_or_expiry(self, store: Store) -> None:
        token = await store.lease_acquire("l", "a", LONG)
        assert token is not None
        await store.lease_release("l", "a")
        with pytest.raises(LeaseLostError):
            await store.cursor_set("c", "1", fence=Fence("l", token))
        with pytest.raises(LeaseLostError):
            await store.cursor_set("c", "1", fence=Fence("never-taken", 1))
        token = await store.lease_acquire("l", "a", SHORT)
        assert token is not None
        deadline = time.monotonic() + 20.0
        while await store.lease_holder("l") is not None:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        with pytest.raises(LeaseLostError):
            await store.cursor_set("c", "1", fence=Fence("l", token))
        assert await store.cursor_get("c") is None

    # -- schedules: once across processes --------------------------------------------
    async def test_schedule_slot_fires_once(self, store: Store) -> None:
        """Each replica tries to take a slot's lease, never released: one fires it."""
        slots = [f"schedule:digest:2026-01-01T0{h}:00" for h in range(3)]
        replicas = [f"replica-{n}-{'ab'[n % 2]}" for n in range(6)]
        for _ in range(2):  # every replica tries each slot twice (a retried tick)
            tokens = await asyncio.gather(
                *(store.lease_acquire(slot, r, LONG) for slot in slots for r in replicas)
            )
        fired = [await store.lease_holder(slot) for slot in slots]
        assert all(f is not None for f in fired)
        assert len([t for t in tokens if t is not None]) == len(slots)
