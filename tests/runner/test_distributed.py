"""The runner on the distributed runtime and RedisStore: the same code, turns over Redis."""

from __future__ import annotations

import pytest

from agent_runner import AgentContext, Message, ShortTermMemory
from agent_runner.distributed import DistributedAgentRuntime, RedisStore
from connectors.inmemory import InMemoryConnector
from tests.distributed.conftest import redis_prefix, redis_server_url, redis_url
from tests.runner.support import make, running

__all__ = ["redis_prefix", "redis_server_url", "redis_url"]  # fixtures used here

pytestmark = pytest.mark.redis


async def test_runner_on_the_distributed_runtime(redis_url: str, redis_prefix: str) -> None:
    chat = InMemoryConnector()

    async def recall(message: Message, context: AgentContext) -> str:
        return f"{message.text} ({len(context.memory.messages)} earlier)"

    runtime = make(
        [chat],
        [chat],
        recall,
        short_term_memory=ShortTermMemory(),
        store=RedisStore(redis_url, prefix=redis_prefix),
        runtime=DistributedAgentRuntime(redis_url, prefix=redis_prefix, block=0.05),
    )
    async with running(runtime):
        for n in range(20):
            await chat.push(str(n), conversation_id=f"c{n % 2}", id=f"m{n}")
        duplicate = await chat.push("0", conversation_id="c0", id="m0")
        await chat.wait_for_replies(20, timeout=20)
    assert duplicate.duplicate
    assert chat.replies_to("c0") == [f"{n} ({n} earlier)" for n in range(0, 20, 2)]
    assert chat.replies_to("c1") == [f"{n} ({n - 1} earlier)" for n in range(1, 20, 2)]


async def test_conversations_also_run_on_a_worker(redis_url: str, redis_prefix: str) -> None:
    chat = InMemoryConnector()
    hosts: dict[str, list[str]] = {}

    async def where(message: Message, context: AgentContext) -> str:
        host = "worker" if context.runtime is worker_runtime else "runner"
        hosts.setdefault(message.conversation_id, []).append(host)
        return message.text

    def distributed(worker_id: str) -> DistributedAgentRuntime:
        return DistributedAgentRuntime(
            redis_url,
            prefix=redis_prefix,
            worker_id=worker_id,
            block=0.05,
            heartbeat_interval=0.05,
            heartbeat_ttl=1.0,
        )

    worker_runtime = distributed("worker-1")
    runner = make(
        [chat],
        [chat],
        where,
        store=RedisStore(redis_url, prefix=redis_prefix),
        runtime=distributed("runner-1"),
    )
    await runner.register_conversations(worker_runtime)  # what a worker module does
    worker_runtime.start()
    try:
        async with running(runner):
            for n in range(40):
                await chat.push(str(n), conversation_id=f"c{n % 8}")
            await chat.wait_for_replies(40, timeout=20)
    finally:
        await worker_runtime.close()
        await runner.store.close()
    for c in range(8):
        assert chat.replies_to(f"c{c}") == [str(n) for n in range(c, 40, 8)]
    assert any("worker" in h for h in hosts.values())


async def test_an_interrupted_reply_resumes_from_the_redis_ledger(
    redis_url: str, redis_prefix: str
) -> None:
    """Replies of a distributed deployment go through the RedisStore ledger: a split reply
    whose process died after its first part resumes at the second, on another process."""
    from tests.runner.test_ledger import Platform, _drained, message

    m = message(1, "one|two|three")
    store = RedisStore(redis_url, prefix=redis_prefix)
    await store.open()
    await store.journal_accept(m.key, m.conversation_key, m.model_dump_json())
    assert (await store.reply_open("memory:m1#0", "memory")).attempt == 1
    await store.reply_part("memory:m1#0", "memory", 0, "post-1")
    await store.close()
    platform = Platform("exactly_once")
    platform.posts = [("memory:m1#0", "one")]

    async def echo(message: Message, context: AgentContext) -> str:
        return message.text

    runtime = make(
        [],
        [platform],
        echo,
        store=RedisStore(redis_url, prefix=redis_prefix),
        runtime=DistributedAgentRuntime(redis_url, prefix=redis_prefix, block=0.05),
    )
    async with running(runtime):
        await _drained(runtime.store)
        state = await runtime.store.reply_open("memory:m1#0", "memory")
    assert [text for _, text in platform.posts] == ["one", "two", "three"]
    assert platform.requests == 2 and state.ok is True and state.attempt == 2
