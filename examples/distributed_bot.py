"""The main job split over processes: this bot takes HTTP input and delivers the replies; the
conversation turns run on `agent-runner worker` processes; journal, memory and state live
in Redis. What ``compose.yaml`` runs (one bot, two workers, Redis).

Run it (REDIS_URL set, a redis-server running)::

    agent-runner run examples/distributed_bot.py          # the bot: HTTP on 8080
    agent-runner worker examples.distributed_bot          # each worker (as many as you like)

``register`` below is what the workers call: it hosts the same agent's conversations.
"""

from __future__ import annotations

import os

from agent_runner import AgentContext, AgentRuntime, Message
from agent_runner.core import MessageRuntime
from agent_runner.distributed import DistributedAgentRuntime, RedisStore
from agent_runner.memory import ShortTermMemory
from connectors.http import HTTPConnector

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


async def agent(message: Message, context: AgentContext) -> str:
    earlier = sum(1 for item in context.memory.messages if item.role == "user")
    worker = os.environ.get("HOSTNAME") or str(os.getpid())
    return f"You said {message.text!r} (message {earlier + 1} here; answered by {worker})"


def build(runtime: MessageRuntime | None = None) -> AgentRuntime:
    """The runner: HTTP in and out, turns on ``runtime`` (the workers, when distributed)."""
    http = HTTPConnector.from_env()
    return AgentRuntime(
        [http],
        [http],
        agent,
        ShortTermMemory(max_messages=20),
        store=RedisStore(REDIS_URL),
        runtime=runtime,
        name="distributed-bot",
    )


async def register(runtime: MessageRuntime) -> None:
    """`agent-runner worker examples.distributed_bot`: host the conversations here."""
    await build().register_conversations(runtime)


runtime = build(DistributedAgentRuntime(REDIS_URL))
