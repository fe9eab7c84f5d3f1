"""X's daily post cap shared by replicas: three real processes (tweepy against FakeX) on one
store never post more than the cap between them, exact to the tweet; a new UTC day starts
again at zero."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agent_runner.distributed import RedisStore
from agent_runner.errors import AgentRunnerError
from agent_runner.testing.x import FakeX
from connectors.x import DailyPostCapError, XConnector
from tests.connectors.x._fixtures import FakeClock
from tests.limits._replica import start

ROOT = Path(__file__).resolve().parents[2]
CAP = 17


async def three_replicas_post(*where: str) -> None:
    async with FakeX() as fake:
        args = [*where, "--posts", "10", "--cap", str(CAP)]
        procs = [await start("x_app", *args, env=fake.env()) for _ in range(3)]
        outputs = await asyncio.gather(*(proc.communicate(b"go\n") for proc in procs))
        assert [proc.returncode for proc in procs] == [0, 0, 0]
        summaries = [json.loads(out.decode().splitlines()[-1]) for out, _ in outputs]
        assert len(fake.posted) == CAP  # not 18, not 16: exact to the tweet
        assert sum(s["posted"] for s in summaries) == CAP
        assert sum(s["capped"] for s in summaries) == 30 - CAP


async def test_three_replicas_on_redis_post_exactly_the_daily_cap(
    redis_url: str, redis_prefix: str
) -> None:
    await three_replicas_post("--redis", redis_url, "--prefix", redis_prefix)


async def test_three_replicas_on_one_sqlite_file_post_exactly_the_daily_cap(
    tmp_path: Path,
) -> None:
    await three_replicas_post("--db", str(tmp_path / "shared.sqlite3"))


async def test_the_cap_on_redis_starts_again_on_the_next_utc_day(
    redis_url: str, redis_prefix: str
) -> None:
    clock = FakeClock()
    store = RedisStore(redis_url, prefix=redis_prefix)
    await store.open()
    async with FakeX(clock=clock) as fake:
        x = XConnector.from_env(fake.env(), daily_post_cap=2, clock=clock, sleep=clock.sleep)
        x.bind_store(store)
        async with x:
            results = await asyncio.gather(
                *(x.post(f"t{n}") for n in range(5)), return_exceptions=True
            )
            assert sum(r is None or isinstance(r, list) for r in results) == 2
            assert sum(isinstance(r, DailyPostCapError) for r in results) == 3
            assert await x.posts_today() == 2
            clock.now += 86_400  # the next UTC day: a new counter
            assert await x.posts_today() == 0
            await x.post("a new day")
            assert await x.posts_today() == 1
    await store.close()
    assert len(fake.posted) == 3


async def test_parts_of_a_failed_thread_never_attempted_are_given_back(
    redis_url: str, redis_prefix: str
) -> None:
    clock = FakeClock()
    store = RedisStore(redis_url, prefix=redis_prefix)
    await store.open()
    async with FakeX(clock=clock) as fake:
        x = XConnector.from_env(fake.env(), daily_post_cap=5, clock=clock, sleep=clock.sleep)
        x.bind_store(store)
        async with x:
            await x.post("first")
            fake.fail_next(1, status=500, endpoint="create_tweet")  # may have been applied
            with pytest.raises(AgentRunnerError):
                await x.post(["a", "b", "c"])
            # "first" and "a" (failed, maybe posted by X) count; "b" and "c" were given back
            assert await x.posts_today() == 2
            await x.post(["d", "e", "f"])
            with pytest.raises(DailyPostCapError):
                await x.post("g")
    await store.close()
    assert [t.text for t in fake.posted] == ["first", "d", "e", "f"]
