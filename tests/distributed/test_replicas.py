"""Three replicas of one Telegram bot (``agent-runner run tests/distributed/replica_bot.py``,
real processes) on a real redis-server with the Redis store, against FakeTelegram.

- one replica polls at a time: the fake never sees two ``getUpdates`` clients at once;
- SIGKILL of the holder: another replica takes the input over within ``ttl + retry`` (the
  documented bound; waited for with slack, never asserted as a timing), resuming from the
  stored offset: every message is answered exactly once;
- SIGTERM of the holder (leases of 30 s here): the lease is released at once, so another
  replica holds it long before the old holding would have expired;
- SIGKILL of a replica holding accepted but unanswered messages (its agent hangs): the
  others take them over within ``replica_ttl + retry`` and answer each exactly once, with no
  restart (and the same on a SQLite file);
- a SQLite-file variant: two processes sharing one file.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from agent_runner import InputLeases
from agent_runner.distributed import RedisStore
from agent_runner.store import SQLiteStore, Store
from agent_runner.testing.telegram import FakeTelegram
from connectors.telegram import TelegramConnector
from tests.distributed._replicas import REPO, SLACK, Replicas, holder, repeated_lines

_log = logging.getLogger(__name__)
BOT = REPO / "tests" / "distributed" / "replica_bot.py"
TTL, RETRY = 3.0, 0.2
BOUND = TTL + RETRY
"""The documented takeover bound after a SIGKILL (InputLeases.takeover_bound)."""
RECOVERY = InputLeases(ttl=TTL, retry=RETRY).recovery_bound
"""The documented bound within which a killed replica's messages are queued again."""

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def lease_of(fake: FakeTelegram) -> str:
    return TelegramConnector(token=fake.token, api_base=fake.url).lease_name


async def until_held(
    store: Store, lease: str, replicas: Replicas, ok: Callable[[str], bool] = bool
) -> str:
    """The replica that holds the lease once one that satisfies ``ok`` does."""
    async with asyncio.timeout(BOUND + SLACK):
        while True:
            name = await holder(store, lease, replicas)
            if name is not None and ok(name):
                return name
            await asyncio.sleep(0.05)


async def send_and_wait(fake: FakeTelegram, texts: list[str]) -> None:
    for text in texts:
        fake.send_user_message(fake.private, text)
    await fake.wait_until(lambda: answered(fake) >= set(texts), timeout=BOUND + SLACK)


def answered(fake: FakeTelegram) -> set[str]:
    return {m.reply_to.text for m in fake.sent_in(fake.private) if m.reply_to is not None}


def replies_per_message(fake: FakeTelegram) -> collections.Counter[int]:
    return collections.Counter(
        m.reply_to_id for m in fake.sent_in(fake.private) if m.reply_to_id is not None
    )


@pytest.fixture
async def redis_store(redis_url: str, redis_prefix: str) -> AsyncIterator[Store]:
    store = RedisStore(redis_url, prefix=redis_prefix)
    await store.open()
    yield store
    await store.close()


async def test_three_replicas_one_poller_sigkill_moves_it_within_the_bound(
    fake: FakeTelegram, redis_store: Store, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = {**fake.env(), "REDIS_URL": redis_url, "TEST_PREFIX": redis_prefix, "STORE": "redis"}
    replicas = Replicas(BOT, tmp_path, env, ttl=TTL)
    lease = lease_of(fake)
    try:
        for name in ("r1", "r2", "r3"):
            replicas.start(name)
        first = await until_held(redis_store, lease, replicas)
        await send_and_wait(fake, [f"before {i}" for i in range(10)])
        await asyncio.sleep(TTL)  # renewals go on; the standbys keep standing by
        assert await holder(redis_store, lease, replicas) == first

        replicas.signal(first, signal.SIGKILL)
        killed_at = time.monotonic()
        after = [f"after {i}" for i in range(10)]
        for text in after:  # waiting in Telegram while nobody polls
            fake.send_user_message(fake.private, text)
        second = await until_held(redis_store, lease, replicas, lambda n: n != first)
        takeover = time.monotonic() - killed_at
        await send_and_wait(fake, after)
        _log.info("takeover after SIGKILL: %.2fs (bound %.1fs)", takeover, BOUND)

        assert second != first
        counts = replies_per_message(fake)
        assert len(counts) == 20 and set(counts.values()) == {1}, counts
        assert fake.conflicts == 0  # never two getUpdates clients at once
        assert {m.text.split(":")[0] for m in fake.sent_in(fake.private)} <= {first, second}
        assert "standing by" in replicas.log(second)
    finally:
        replicas.kill_all()


async def test_sigterm_hands_the_input_over_at_once(
    fake: FakeTelegram, redis_store: Store, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = {**fake.env(), "REDIS_URL": redis_url, "TEST_PREFIX": redis_prefix, "STORE": "redis"}
    replicas = Replicas(BOT, tmp_path, env, ttl=30.0)
    lease = lease_of(fake)
    try:
        for name in ("r1", "r2", "r3"):
            replicas.start(name)
        first = await until_held(redis_store, lease, replicas)
        await send_and_wait(fake, ["one", "two"])
        held = await redis_store.lease_holder(lease)
        assert held is not None
        replicas.signal(first, signal.SIGTERM)
        second = await until_held(redis_store, lease, replicas, lambda n: n != first)
        # Taken before the old holding could have expired: it was released, not waited out.
        assert time.time() < held.expires_at
        taken = await redis_store.lease_holder(lease)
        assert taken is not None and taken.token > held.token
        assert await replicas.exited(first) == 0
        assert "released" in replicas.log(first)
        await send_and_wait(fake, ["three", "four"])
        counts = replies_per_message(fake)
        assert len(counts) == 4 and set(counts.values()) == {1}, counts
        assert fake.conflicts == 0
        assert second in {m.text.split(":")[0] for m in fake.sent_in(fake.private)}
    finally:
        replicas.kill_all()


async def test_two_processes_on_one_sqlite_file_share_the_poller(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    path = tmp_path / "shared.sqlite3"
    replicas = Replicas(BOT, tmp_path, {**fake.env(), "STORE": str(path)}, ttl=TTL)
    lease = lease_of(fake)
    store = SQLiteStore(path, synchronous="NORMAL", busy_timeout=30.0)
    await store.open()
    try:
        replicas.start("s1")
        replicas.start("s2")
        first = await until_held(store, lease, replicas)
        await send_and_wait(fake, ["a", "b"])
        replicas.signal(first, signal.SIGKILL)
        await until_held(store, lease, replicas, lambda n: n != first)
        await send_and_wait(fake, ["c", "d"])
        counts = replies_per_message(fake)
        assert len(counts) == 4 and set(counts.values()) == {1}, counts
        assert fake.conflicts == 0
    finally:
        replicas.kill_all()
        await store.close()


async def until_pending(store: Store, count: int) -> None:
    """Until ``count`` messages are journaled and not yet answered."""
    async with asyncio.timeout(SLACK):
        while len(await store.journal_pending()) < count:  # noqa: ASYNC110 - another process
            await asyncio.sleep(0.05)


async def kill_the_replica_holding_unanswered_messages(
    fake: FakeTelegram, store: Store, replicas: Replicas, names: list[str], gate: Path | None = None
) -> None:
    """``names[0]`` (its agent hangs) polls and accepts 10 messages, then is SIGKILLed; the
    others answer them, and 10 more, each exactly once, with no restart. With ``gate``, every
    replica's agent waits for that file instead (turns run on any replica: the distributed
    runtime), and the test creates it right after the kill."""
    lease = lease_of(fake)
    first, *others = names
    waits = {"GATE": str(gate)} if gate is not None else {}
    replicas.start(first, **(waits or {"HANG": "1"}))
    assert await until_held(store, lease, replicas) == first
    for name in others:
        replicas.start(name, **waits)
    held = [f"held {i}" for i in range(10)]
    for text in held:
        fake.send_user_message(fake.private, text)
    await until_pending(store, len(held))  # accepted (journaled, offset moved), unanswered
    async with asyncio.timeout(SLACK):
        while not all("agent runner started" in replicas.log(n) for n in others):  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    replicas.signal(first, signal.SIGKILL)
    killed_at = time.monotonic()
    if gate is not None:
        await asyncio.to_thread(gate.touch)
    after = [f"after {i}" for i in range(10)]
    for text in after:  # arriving while the input and the messages move
        fake.send_user_message(fake.private, text)
    await fake.wait_until(lambda: answered(fake) >= set(held), timeout=RECOVERY + SLACK)
    _log.info("held messages answered %.2fs after SIGKILL", time.monotonic() - killed_at)
    await fake.wait_until(lambda: answered(fake) >= set(after), timeout=BOUND + SLACK)
    await asyncio.sleep(RETRY * 5)  # sweeps go on: nothing is answered again

    counts = replies_per_message(fake)
    assert len(counts) == 20 and set(counts.values()) == {1}, counts
    assert {m.text.split(":")[0] for m in fake.sent_in(fake.private)} <= set(others)
    assert all(replicas.running(name) for name in others)  # no restart
    assert await store.journal_pending() == []
    logs = "".join(replicas.log(name) for name in others)
    assert "took over 10 accepted message(s) not yet answered from replica" in logs
    for name in names:  # one line per event: no request-by-request httpx lines
        assert repeated_lines(replicas.log(name)) == [], replicas.log(name)


async def test_sigkill_of_a_replica_with_unanswered_messages_loses_none(
    fake: FakeTelegram, redis_store: Store, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = {**fake.env(), "REDIS_URL": redis_url, "TEST_PREFIX": redis_prefix, "STORE": "redis"}
    replicas = Replicas(BOT, tmp_path, env, ttl=TTL)
    try:
        await kill_the_replica_holding_unanswered_messages(
            fake, redis_store, replicas, ["r1", "r2", "r3"]
        )
    finally:
        replicas.kill_all()


async def test_sigkill_with_unanswered_messages_on_the_distributed_runtime(
    fake: FakeTelegram, redis_store: Store, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """As REDIS_URL with runtime_from_env() runs them: the turns of the killed replica's
    messages may have been running on the others; they are answered once all the same."""
    env = {**fake.env(), "REDIS_URL": redis_url, "TEST_PREFIX": redis_prefix, "STORE": "redis"}
    env["RUNTIME"] = "distributed"
    replicas = Replicas(BOT, tmp_path, env, ttl=TTL)
    try:
        await kill_the_replica_holding_unanswered_messages(
            fake, redis_store, replicas, ["r1", "r2", "r3"], gate=tmp_path / "gate"
        )
    finally:
        replicas.kill_all()


async def test_sigkill_with_unanswered_messages_on_one_sqlite_file(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    path = tmp_path / "shared.sqlite3"
    replicas = Replicas(BOT, tmp_path, {**fake.env(), "STORE": str(path)}, ttl=TTL)
    store = SQLiteStore(path, synchronous="NORMAL", busy_timeout=30.0)
    await store.open()
    try:
        await kill_the_replica_holding_unanswered_messages(fake, store, replicas, ["s1", "s2"])
    finally:
        replicas.kill_all()
        await store.close()
