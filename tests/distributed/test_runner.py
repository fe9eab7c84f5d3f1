"""The I/O runner over the distributed runtime: inputs and outputs in one process, the
conversation turns on worker processes, the journal and memory in RedisStore."""

from __future__ import annotations

from tests.distributed._workers import Workers, wait_hosted
from tests.distributed.runner_app import running_on_workers


async def test_conversations_run_on_workers(
    runner_workers: Workers, redis_url: str, redis_prefix: str
) -> None:
    runner_workers.start("w1", partitions=4)
    await wait_hosted(redis_url, redis_prefix, "agent_runner.conversation", 4, {"w1"})
    async with running_on_workers(redis_url, redis_prefix) as chat:
        for n in range(8):
            await chat.push(f"hi {n}", conversation_id=f"c{n}")
        replies = await chat.wait_for_replies(8, timeout=15)
    texts = sorted(reply.text for _, reply in replies)
    assert [t.split(" (on ")[0] for t in texts] == [f"echo hi {n}" for n in range(8)]
    assert all(t.endswith("(on w1)") for t in texts), texts  # the runner hosts none
