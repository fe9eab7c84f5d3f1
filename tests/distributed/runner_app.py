"""A bot split over processes: the runner (inputs, journal, outputs) in the test process,
its conversation turns on worker processes (``register`` below), state in RedisStore."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from agent_runner import AgentContext, AgentRuntime, Message
from agent_runner.core import MessageRuntime
from agent_runner.distributed import DistributedAgentRuntime, RedisStore
from connectors.inmemory import InMemoryConnector


async def agent(message: Message, context: AgentContext) -> str:
    return f"echo {message.text} (on {os.environ.get('WORKER_NAME', 'runner')})"


def build(
    redis_url: str, prefix: str, *, runtime: MessageRuntime | None = None
) -> tuple[InMemoryConnector, AgentRuntime]:
    chat = InMemoryConnector()
    runner = AgentRuntime(
        [chat],
        [chat],
        agent,
        store=RedisStore(redis_url, prefix=prefix),
        runtime=runtime,
        handle_signals=False,
        host_conversations=runtime is None,  # given the distributed runtime: workers host them
    )
    return chat, runner


async def register(runtime: MessageRuntime) -> None:
    _, runner = build(os.environ["REDIS_URL"], os.environ["TEST_PREFIX"])
    await runner.register_conversations(runtime)


@asynccontextmanager
async def running_on_workers(redis_url: str, prefix: str) -> AsyncIterator[InMemoryConnector]:
    """The runner in this process, started on a distributed runtime (its turns run on the
    workers); yields its input and output; stopped and closed at the end of the block."""
    runtime = DistributedAgentRuntime(
        redis_url, prefix=prefix, heartbeat_interval=0.1, heartbeat_ttl=1.0
    )
    chat, runner = build(redis_url, prefix, runtime=runtime)
    task = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(20):
            await runner.wait_started()
        yield chat
    finally:
        await runner.stop()
        await task
        await runtime.close()
