"""A budget shared by replicas is never exceeded: concurrent tasks and real processes on one
store (Redis, a SQLite file), exact to the unit; Redis down fails closed."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from agent_runner.distributed import RedisStore
from agent_runner.errors import BudgetExceededError
from agent_runner.pricing import Budget, ModelPrice, Pricing, utc_day
from agent_runner.store import SQLiteStore, Store
from tests.distributed._servers import RedisServer
from tests.limits._replica import start

ROOT = Path(__file__).resolve().parents[2]
PRICES = {"m": ModelPrice(input_per_million=1_000_000.0, output_per_million=2_000_000.0)}


async def three_replicas_spend(store: Store, *where: str, estimate: int) -> list[dict[str, float]]:
    """Three processes, 40 concurrent calls each, against one daily budget of 50."""
    args = [*where, "--requests", "40", "--budget", "50", "--estimate", str(estimate)]
    procs = await asyncio.gather(*(start("app", *args, "--cost", "1") for _ in range(3)))
    outputs = await asyncio.gather(*(proc.communicate(b"go\n") for proc in procs))
    assert [proc.returncode for proc in procs] == [0, 0, 0]
    summaries = [json.loads(out.decode().splitlines()[-1]) for out, _ in outputs]
    await store.open()
    try:
        recorded = await store.cost_sum()
    finally:
        await store.close()
    assert recorded == sum(s["spent"] for s in summaries)
    return summaries


async def test_three_processes_on_redis_spend_the_budget_exactly(
    redis_url: str, redis_prefix: str
) -> None:
    store = RedisStore(redis_url, prefix=redis_prefix)
    where = ("--redis", redis_url, "--prefix", redis_prefix)
    summaries = await three_replicas_spend(store, *where, estimate=1)
    assert sum(s["spent"] for s in summaries) == 50  # to the unit: not 51, not 49
    assert sum(s["calls"] for s in summaries) == 50
    assert sum(s["refused"] for s in summaries) == 70


async def test_estimates_above_the_cost_never_let_replicas_exceed_it(
    redis_url: str, redis_prefix: str
) -> None:
    store = RedisStore(redis_url, prefix=redis_prefix)
    where = ("--redis", redis_url, "--prefix", redis_prefix)
    summaries = await three_replicas_spend(store, *where, estimate=3)
    assert 0 < sum(s["spent"] for s in summaries) <= 50


async def test_three_processes_on_one_sqlite_file_spend_the_budget_exactly(
    tmp_path: Path,
) -> None:
    db = tmp_path / "shared.sqlite3"
    summaries = await three_replicas_spend(SQLiteStore(db), "--db", str(db), estimate=1)
    assert sum(s["spent"] for s in summaries) == 50
    assert sum(s["calls"] for s in summaries) == 50


async def test_concurrent_requests_in_one_process_spend_the_budget_exactly(
    shared_store: Store,
) -> None:
    pricing = Pricing(prices=PRICES, budget=Budget(per_day=20.0, per_conversation=8.0))

    async def call(n: int) -> bool:
        meter = pricing.meter(shared_store, request_key=f"r{n}", conversation_key=f"c{n % 3}")
        try:
            await meter.check("m", input_tokens=1)
        except BudgetExceededError:
            return False
        await meter.record("m", input_tokens=1, output_tokens=0)
        return True

    made = await asyncio.gather(*(call(n) for n in range(60)))
    assert sum(made) == 20
    assert await shared_store.cost_sum() == 20.0
    for conversation in ("c0", "c1", "c2"):
        assert await shared_store.cost_sum(conversation_key=conversation) <= 8.0


async def test_a_budget_on_redis_waits_while_redis_is_down_and_survives_a_restart() -> None:
    """Fail closed: no call is let through unchecked while Redis restarts (the store retries
    for 30 s, then raises StoreError); with AOF the counters and the ledger survive."""
    server = RedisServer(persistent=True)  # appendonly, fsync always
    server.start()
    store = RedisStore(server.url, redis_options={"socket_timeout": 2.0})
    pricing = Pricing(prices=PRICES, budget=Budget(per_day=5.0))
    try:
        await store.open()
        meter = pricing.meter(store, request_key="r1", conversation_key="c")
        await meter.check("m", input_tokens=3)
        await meter.record("m", input_tokens=3, output_tokens=0)
        server.kill()
        retry = pricing.meter(store, request_key="r2", conversation_key="c")
        check = asyncio.create_task(retry.check("m", input_tokens=2))
        await asyncio.sleep(0.5)
        assert not check.done()  # waiting for Redis, not let through
        server.start()
        async with asyncio.timeout(30):
            await check  # 3 + 2 fits exactly
        with pytest.raises(BudgetExceededError):
            await pricing.meter(store, request_key="r3", conversation_key="c").check(
                "m", input_tokens=1
            )
        assert await store.cost_sum(day=utc_day(time.time())) == 3.0
    finally:
        await store.close()
        server.cleanup()
