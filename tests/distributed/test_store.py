"""RedisStore against the Store contract, and across processes sharing one Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from agent_runner.distributed import RedisStore
from agent_runner.errors import LeaseLostError, StoreError
from agent_runner.store import Fence, Store
from tests.store.contract import StoreContract
from tests.store.contract_leases import LeaseContract
from tests.store.contract_owners import OwnedJournalContract, alive


class TestRedisStore(StoreContract, LeaseContract, OwnedJournalContract):
    @pytest.fixture
    async def store(self, redis_url: str, redis_prefix: str) -> AsyncIterator[Store]:
        s = RedisStore(redis_url, prefix=redis_prefix)
        await s.open()
        yield s
        await s.close()


@pytest.fixture
async def two_stores(redis_url: str, redis_prefix: str) -> AsyncIterator[list[RedisStore]]:
    """Two RedisStores on one prefix, as two processes of one deployment have."""
    stores = [RedisStore(redis_url, prefix=redis_prefix) for _ in range(2)]
    for store in stores:
        await store.open()
    yield stores
    for store in stores:
        await store.close()


async def test_two_stores_share_claims(two_stores: list[RedisStore]) -> None:
    first, second = two_stores
    claims = await asyncio.gather(
        *(s.reply_claim("m#0", "out") for s in (first, second) for _ in range(20))
    )
    assert claims.count(True) == 1
    assert await first.journal_accept("k", "c", "{}") is True
    assert await second.journal_accept("k", "c", "{}") is False
    assert [e.key for e in await second.journal_pending()] == ["k"]


async def test_two_stores_share_leases(two_stores: list[RedisStore]) -> None:
    tokens = await asyncio.gather(
        *(s.lease_acquire("input:x", str(n), 60) for n, s in enumerate(two_stores * 20))
    )
    assert len([t for t in tokens if t is not None]) == 1
    winner = await two_stores[1].lease_holder("input:x")
    assert winner is not None
    own, other = two_stores[int(winner.holder) % 2], two_stores[1 - int(winner.holder) % 2]
    assert await other.lease_acquire("input:x", "other", 60) is None
    await own.lease_release("input:x", winner.holder)
    taken = await other.lease_acquire("input:x", "other", 60)
    assert taken is not None and taken > winner.token
    with pytest.raises(LeaseLostError):
        await own.cursor_set("x", "1", fence=Fence("input:x", winner.token))


async def test_closed_store_raises_store_error(redis_url: str, redis_prefix: str) -> None:
    store = RedisStore(redis_url, prefix=redis_prefix)
    with pytest.raises(StoreError):
        await store.state_get("a")


async def test_entries_journaled_before_owners_are_the_no_owners(
    redis_url: str, redis_prefix: str
) -> None:
    """A Redis journal written by a version without owners (entries of four elements): its
    pending entries are the no-owner's, adopted by the first replica up, once."""
    client = redis.Redis.from_url(redis_url)
    store_key = f"{redis_prefix}:store"
    await client.zadd(f"{store_key}:pending", {"tg:1": 1})
    await client.hset(f"{store_key}:entries", "tg:1", '[1, "c", "{}", 1.0]')
    store = RedisStore(redis_url, prefix=redis_prefix)
    await store.open()
    try:
        fence = await alive(store, "b")
        adopted = await store.journal_adopt("", by="b", fence=fence, sources=["tg"])
        assert [e.key for e in adopted] == ["tg:1"]
        await store.close()
        await store.open()  # once only: the entry is b's now
        assert await store.journal_adopt("", by="b", fence=fence, sources=["tg"]) == []
    finally:
        await store.close()
        await client.aclose()
