"""RedisStore against the Store contract, and across processes sharing one Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agent_runner.distributed import RedisStore
from agent_runner.errors import LeaseLostError, StoreError
from agent_runner.store import Fence, Store
from tests.store.contract import StoreContract
from tests.store.contract_leases import LeaseContract


class TestRedisStore(StoreContract, LeaseContract):
    @pytest.fixture
    async def store(self, redis_url: str, redis_prefix: str) -> AsyncIterator[Store]:
        s = RedisStore(redis_url, prefix=redis_prefix)
        await s.open()
        yield s
        await s.close()


async def test_two_stores_share_claims(redis_url: str, redis_prefix: str) -> None:
    first, second = (
        RedisStore(redis_url, prefix=redis_prefix),
        RedisStore(redis_url, prefix=redis_prefix),
    )
    await first.open()
    await second.open()
    try:
        claims = await asyncio.gather(
            *(s.reply_claim("m#0", "out") for s in (first, second) for _ in range(20))
        )
        assert claims.count(True) == 1
        assert await first.journal_accept("k", "c", "{}") is True
        assert await second.journal_accept("k", "c", "{}") is False
        assert [e.key for e in await second.journal_pending()] == ["k"]
    finally:
        await first.close()
        await second.close()


async def test_two_stores_share_leases(redis_url: str, redis_prefix: str) -> None:
    first, second = (
        RedisStore(redis_url, prefix=redis_prefix),
        RedisStore(redis_url, prefix=redis_prefix),
    )
    await first.open()
    await second.open()
    try:
        tokens = await asyncio.gather(
            *(s.lease_acquire("input:x", f"{n}", 60) for n, s in enumerate([first, second] * 20))
        )
        assert len([t for t in tokens if t is not None]) == 1
        winner = await second.lease_holder("input:x")
        assert winner is not None
        loser = second if int(winner.holder) % 2 == 0 else first
        await loser.lease_release("input:x", winner.holder)  # any process may release for it
        taken = await loser.lease_acquire("input:x", "loser", 60)
        assert taken is not None and taken > winner.token
        with pytest.raises(LeaseLostError):
            await first.cursor_set("x", "1", fence=Fence("input:x", winner.token))
    finally:
        await first.close()
        await second.close()


async def test_closed_store_raises_store_error(redis_url: str, redis_prefix: str) -> None:
    store = RedisStore(redis_url, prefix=redis_prefix)
    with pytest.raises(StoreError):
        await store.state_get("a")
