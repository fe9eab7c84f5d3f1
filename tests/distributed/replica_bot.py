"""One replica of a Telegram bot on the Redis store, run by ``agent-runner run`` in the replica
tests (tests/distributed/test_replicas.py); every replica runs this same file.

Environment: ``TELEGRAM_BOT_TOKEN``/``TELEGRAM_API_BASE`` (the test's FakeTelegram),
``REDIS_URL``, ``TEST_PREFIX`` (the test's Redis key prefix), ``REPLICA`` (its name, in its
replies), ``LEASE_TTL`` (seconds), ``STORE`` (``redis``, or a SQLite file's path), ``HANG``
(set: the agent never answers, so what this replica accepts stays unanswered), ``GATE`` (a
file's path: the agent waits until it exists), ``RUNTIME`` (``distributed``: the turns run on
the replicas' shared DistributedAgentRuntime, as with ``runtime_from_env()``).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from agent_runner import AgentRuntime, InputLeases, Message, SQLiteStore, Store
from agent_runner.core import MessageRuntime
from agent_runner.distributed import DistributedAgentRuntime, RedisStore
from connectors.telegram import TelegramConnector

REPLICA = os.environ.get("REPLICA", "?")
HANG = bool(os.environ.get("HANG"))
GATE = Path(os.environ["GATE"]) if os.environ.get("GATE") else None


async def answer(message: Message, context: object) -> str:
    if HANG:
        await asyncio.Event().wait()
    while GATE is not None and not GATE.exists():  # noqa: ASYNC110 - the test opens it
        await asyncio.sleep(0.05)
    return f"{REPLICA}: {message.text}"


def _runtime() -> MessageRuntime | None:
    if os.environ.get("RUNTIME") != "distributed":
        return None
    return DistributedAgentRuntime(
        os.environ["REDIS_URL"],
        prefix=os.environ["TEST_PREFIX"],
        heartbeat_interval=0.5,
        heartbeat_ttl=2.0,
    )


def _store() -> Store:
    where = os.environ.get("STORE", "redis")
    if where == "redis":
        return RedisStore(os.environ["REDIS_URL"], prefix=os.environ["TEST_PREFIX"])
    return SQLiteStore(where, synchronous="NORMAL", busy_timeout=30.0)


telegram = TelegramConnector(poll_timeout=1, typing=False, stream=False, request_timeout=10.0)
runtime = AgentRuntime(
    [telegram],
    [telegram],
    answer,
    store=_store(),
    runtime=_runtime(),
    input_leases=InputLeases(ttl=float(os.environ.get("LEASE_TTL", "3")), retry=0.2),
    shutdown_grace=10.0,
    agent_timeout=None,
)
