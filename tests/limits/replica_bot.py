"""A bot whose replies name the replica that ran the turn, for the replica tests of
tests/limits/test_replicas.py: HTTP in and out, ``store_from_env()`` and
``runtime_from_env()`` (Redis and the distributed runtime when ``REDIS_URL`` is set), as an
``agent-runner init`` bot. ``REPLICA`` names this process."""

from __future__ import annotations

import os

from agent_runner import AgentContext, AgentRuntime, Message
from agent_runner.replicas import runtime_from_env, store_from_env
from connectors.http import HTTPConnector

REPLICA = os.environ.get("REPLICA", "?")


async def answer(message: Message, context: AgentContext) -> str:
    return f"{REPLICA}: {message.text}"


http = HTTPConnector.from_env()
runtime = AgentRuntime([http], [http], answer, store=store_from_env(), runtime=runtime_from_env())
