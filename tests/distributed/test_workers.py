"""Worker processes on a real Redis: RPC and publish across processes, keys spread over
workers, a worker killed with SIGKILL under load, agent state moving between workers."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio as redis

from agent_runner.core import AgentId, TopicId, try_get_known_serializers_for_type
from agent_runner.distributed import DistributedAgentRuntime
from tests.distributed._workers import Workers, lease_holders, wait_for
from tests.distributed.agents import Add, Announce, Total

logger = logging.getLogger(__name__)
PARTITIONS = 8


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@pytest.fixture
def workers(redis_url: str, redis_prefix: str) -> Iterator[Workers]:
    made = Workers(redis_url, redis_prefix)
    yield made
    made.close()


@pytest.fixture
async def client(redis_url: str, redis_prefix: str) -> AsyncIterator[DistributedAgentRuntime]:
    # rpc_timeout: generous, so that a loaded machine slows the tests down, never fails them
    runtime = DistributedAgentRuntime(redis_url, prefix=redis_prefix, rpc_timeout=200.0)
    runtime.add_message_serializer(try_get_known_serializers_for_type(Total))
    yield runtime
    await runtime.close()


async def owned_by(rclient: redis.Redis, prefix: str, expected: set[str]) -> None:
    async def ready() -> bool:
        holders = await lease_holders(rclient, prefix, "counter", PARTITIONS)
        return set(holders) == expected

    await wait_for(ready, what=f"partitions held by {sorted(expected)}")


async def test_rpc_and_publish_across_processes(
    workers: Workers, client: DistributedAgentRuntime, rclient: redis.Redis, redis_prefix: str
) -> None:
    workers.start("w1")
    await owned_by(rclient, redis_prefix, {"w1"})
    totals = [await client.send_message(Add(n), AgentId("counter", "k")) for n in (1, 2, 3)]
    assert [t.total for t in totals] == [1, 3, 6]
    assert {t.worker for t in totals} == {"w1"}

    await client.publish_message(Announce("hello"), TopicId("announcements", "room"))

    async def heard() -> bool:
        return await rclient.llen(f"{redis_prefix}:rec:events") == 1

    await wait_for(heard)
    assert await rclient.lrange(f"{redis_prefix}:rec:events", 0, -1) == [b"room:hello:w1"]
    assert workers.terminate("w1") == 0


async def test_three_workers_share_a_type(
    workers: Workers, client: DistributedAgentRuntime, rclient: redis.Redis, redis_prefix: str
) -> None:
    for worker in ("w1", "w2", "w3"):
        workers.start(worker)
    await owned_by(rclient, redis_prefix, {"w1", "w2", "w3"})
    keys = [f"k{i}" for i in range(60)]
    calls = [
        client.send_message(Add(1, seq), AgentId("counter", key))
        for seq in range(5)
        for key in keys
    ]
    replies: list[Total] = await asyncio.gather(*calls)
    by_key: dict[str, list[Total]] = defaultdict(list)
    for reply in replies:
        by_key[reply.key].append(reply)
    for key, got in by_key.items():
        assert [t.total for t in got] == [1, 2, 3, 4, 5], key  # in order, one at a time
        assert len({t.worker for t in got}) == 1, key  # one worker per key
    spread = {got[0].worker for got in by_key.values()}
    assert spread == {"w1", "w2", "w3"}
    handled = await rclient.lrange(f"{redis_prefix}:rec:handled", 0, -1)
    assert len(handled) == 300


@pytest.mark.timeout(300)
async def test_sigkill_with_10000_in_flight(
    workers: Workers,
    client: DistributedAgentRuntime,
    rclient: redis.Redis,
    redis_prefix: str,
    record_property: Any,
) -> None:
    workers.start("w1")
    workers.start("w2")
    await owned_by(rclient, redis_prefix, {"w1", "w2"})
    await client.send_message(Add(0, -1), AgentId("counter", "warm-up"))
    keys = [f"k{i}" for i in range(200)]
    total = 10_000
    # Deadlines sized for a loaded machine (load 8 on 2 cores): each call may wait for its
    # reply up to the client's rpc_timeout, and the test waits for all of them to end.
    calls = [
        asyncio.ensure_future(client.send_message(Add(1, seq), AgentId("counter", keys[seq % 200])))
        for seq in range(total)
    ]
    handled_key = f"{redis_prefix}:rec:handled"

    async def some_handled() -> bool:
        return await rclient.llen(handled_key) >= 2_000

    await wait_for(some_handled, within=120, what="2,000 messages handled")
    workers.kill("w1")
    async with asyncio.timeout(240):
        results = await asyncio.gather(*calls, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    replies = [r for r in results if isinstance(r, Total)]
    assert len(errors) + len(replies) == total  # every caller got an answer
    assert not errors, f"{len(errors)} errors, first: {errors[:1]!r}\n{workers.logs()}"

    raw = [_text(v) for v in await rclient.lrange(handled_key, 0, -1)]
    seen = [v for v in raw if not v.startswith("warm-up")]
    unique = set(seen)
    assert len(unique) == total  # every message handled at least once
    duplicates = len(seen) - len(unique)
    record_property("duplicates", duplicates)
    logger.warning("SIGKILL with %d in flight: %d duplicate deliveries", total, duplicates)
    first: dict[str, list[int]] = defaultdict(list)
    for value in dict.fromkeys(seen):
        key, seq = value.split(":")
        first[key].append(int(seq))
    for key, seqs in first.items():
        assert seqs == sorted(seqs), f"{key} handled out of order"
    on_w1 = {r.key for r in replies if r.worker == "w1"}
    on_w2 = {r.key for r in replies if r.worker == "w2"}
    assert on_w1 & on_w2, "w1's keys moved to w2"


async def test_agent_state_moves_to_another_worker(
    workers: Workers, client: DistributedAgentRuntime, rclient: redis.Redis, redis_prefix: str
) -> None:
    workers.start("w1")
    await owned_by(rclient, redis_prefix, {"w1"})
    for n in range(1, 5):
        reply = await client.send_message(Add(n), AgentId("counter", "acc"))
    assert reply.total == 10 and reply.worker == "w1"
    workers.kill("w1")
    workers.start("w2")
    await owned_by(rclient, redis_prefix, {"w2"})
    reply = await client.send_message(Add(5), AgentId("counter", "acc"))
    assert (reply.total, reply.worker) == (15, "w2")
    assert await client.agent_save_state(AgentId("counter", "acc")) == {"total": 15}
