"""A bot split over processes: the runner (inputs, journal, outputs) in the test process,
its conversation turns on worker processes (``register`` below), state in RedisStore."""

from __future__ import annotations

import os

from agent_runner import AgentContext, AgentRuntime, Message
from agent_runner.core import MessageRuntime
from agent_runner.distributed import RedisStore
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
    )
    return chat, runner


async def register(runtime: MessageRuntime) -> None:
    _, runner = build(os.environ["REDIS_URL"], os.environ["TEST_PREFIX"])
    await runner.register_conversations(runtime)
