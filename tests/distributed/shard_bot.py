"""One replica of a Discord bot with four shards on the Redis store, run by ``agent-runner run``
in tests/distributed/test_shards.py; every replica runs this same file and the replicas share
the shards out through their leases.

Environment: ``DISCORD_TOKEN``/``DISCORD_API_BASE``/``DISCORD_GATEWAY_URL`` (the test's
FakeDiscord), ``REDIS_URL``, ``TEST_PREFIX``, ``REPLICA`` (its name, in its replies),
``SHARDS`` (how many), ``LEASE_TTL`` (seconds).
"""

from __future__ import annotations

import os

from agent_runner import AgentRuntime, InputLeases, Message
from agent_runner.distributed import RedisStore
from connectors.discord import DiscordConnector

REPLICA = os.environ.get("REPLICA", "?")


async def answer(message: Message, context: object) -> str:
    return f"{REPLICA}: {message.text}"


shards = DiscordConnector.sharded(
    int(os.environ.get("SHARDS", "4")),
    mentions_only=False,
    guild_ready_timeout=0.5,
    identify_delay=0.0,
    typing=False,
    stream=False,
)
runtime = AgentRuntime(
    shards,
    shards,
    answer,
    store=RedisStore(os.environ["REDIS_URL"], prefix=os.environ["TEST_PREFIX"]),
    input_leases=InputLeases(ttl=float(os.environ.get("LEASE_TTL", "3")), retry=0.2),
    shutdown_grace=10.0,
)
