"""The I/O runner over the distributed runtime: inputs and outputs in one process, the
conversation turns on worker processes, the journal and memory in RedisStore."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis.asyncio as redis

from agent_runner.distributed import DistributedAgentRuntime
from tests.distributed._workers import Workers, lease_holders, wait_for
from tests.distributed.runner_app import build


@pytest.fixture
def workers(redis_url: str, redis_prefix: str) -> Iterator[Workers]:
    made = Workers(redis_url, redis_prefix, "tests.distributed.runner_app", record=False)
    yield made
    made.close()


async def test_conversations_run_on_workers(
    workers: Workers, redis_url: str, redis_prefix: str
) -> None:
    workers.start("w1", partitions=4)
    admin = redis.Redis.from_url(redis_url)
    try:

        async def hosted() -> bool:
            holders = await lease_holders(admin, redis_prefix, "agent_runner.conversation", 4)
            return set(holders) == {"w1"}

        await wait_for(hosted)
    finally:
        await admin.aclose()
    runtime = DistributedAgentRuntime(
        redis_url, prefix=redis_prefix, heartbeat_interval=0.1, heartbeat_ttl=1.0
    )
    chat, runner = build(redis_url, redis_prefix, runtime=runtime)
    task = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(20):
            await runner.wait_started()
            for n in range(8):
                await chat.push(f"hi {n}", conversation_id=f"c{n}")
            replies = await chat.wait_for_replies(8, timeout=15)
        texts = sorted(reply.text for _, reply in replies)
        assert [t.split(" (on ")[0] for t in texts] == [f"echo hi {n}" for n in range(8)]
        assert any(t.endswith("(on w1)") for t in texts), texts
    finally:
        await runner.stop()
        await task
        await runtime.close()
