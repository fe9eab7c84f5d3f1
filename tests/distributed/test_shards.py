"""Discord sharding over replicas: two ``agent-runner run`` replicas of a bot with four shards
(``DiscordConnector.sharded(4)``, tests/distributed/shard_bot.py) on a real redis-server,
against FakeDiscord, which routes each guild's events to its shard
(``(guild_id >> 22) % 4``).

The replicas share the shards out (two each, through one lease per shard); every shard has
exactly one gateway session; a message in each guild is answered once. SIGKILL one replica:
its shards move to the other (within ``ttl + renew + retry``, waited for with slack), each
still connected once, and every message answered once.
"""

from __future__ import annotations

import asyncio
import collections
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_runner.distributed import RedisStore
from agent_runner.store import Store
from agent_runner.testing.discord import FakeDiscord
from connectors.discord import DiscordConnector
from tests.distributed._replicas import REPO, SLACK, Replicas, holder

BOT = REPO / "tests" / "distributed" / "shard_bot.py"
SHARDS, TTL = 4, 3.0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
async def store(redis_url: str, redis_prefix: str) -> AsyncIterator[Store]:
    shared = RedisStore(redis_url, prefix=redis_prefix)
    await shared.open()
    yield shared
    await shared.close()


async def holders(store: Store, leases: list[str], replicas: Replicas) -> list[str | None]:
    return [await holder(store, lease, replicas) for lease in leases]


async def settled(
    fake: FakeDiscord, store: Store, leases: list[str], replicas: Replicas, want: dict[str, int]
) -> None:
    """Until the replicas hold ``want`` shards each and every shard has one live session."""
    async with asyncio.timeout(TTL * 3 + SLACK):
        while True:
            held = collections.Counter(await holders(store, leases, replicas))
            connected = [fake.shard_sessions(shard) for shard in range(SHARDS)]
            if held == collections.Counter(want) and connected == [1] * SHARDS:
                return
            await asyncio.sleep(0.1)


async def each_guild_answered_once(fake: FakeDiscord, channels: list[str], text: str) -> None:
    posted = [await fake.post_user_message(channel, text) for channel in channels]
    wanted = {m.id for m in posted}

    def replies() -> collections.Counter[str]:
        return collections.Counter(
            m.reply_to for c in channels for m in fake.messages_in(c) if m.reply_to in wanted
        )

    await fake.wait_until(lambda: set(replies()) == wanted, timeout=SLACK)
    await asyncio.sleep(0.5)  # a duplicate would come right after
    assert set(replies().values()) == {1}, replies()


async def test_two_replicas_share_four_shards_and_take_over_a_killed_ones(
    store: Store, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    async with FakeDiscord() as fake:
        guilds = [fake.add_guild(f"guild {i}", shard=(i, SHARDS)) for i in range(SHARDS)]
        channels = [fake.add_channel("general", guild_id=g.id).id for g in guilds]
        env = {**fake.env(), "REDIS_URL": redis_url, "TEST_PREFIX": redis_prefix}
        env["SHARDS"] = str(SHARDS)
        replicas = Replicas(BOT, tmp_path, env, ttl=TTL)
        shards = DiscordConnector.sharded(SHARDS, token=fake.token, api_base=fake.url)
        leases = [shard.lease_name for shard in shards]
        try:
            replicas.start("r1")
            replicas.start("r2")
            await settled(fake, store, leases, replicas, {"r1": 2, "r2": 2})
            await each_guild_answered_once(fake, channels, "hello")

            replicas.signal("r1", signal.SIGKILL)
            await settled(fake, store, leases, replicas, {"r2": 4})
            await each_guild_answered_once(fake, channels, "still there?")
            assert fake.stats.shard_overlaps == 0  # never two sessions of one shard at once
            assert sorted(set(fake.stats.identified_shards)) == list(range(SHARDS))
            logged_in = [line for line in replicas.log("r2").splitlines() if "logged in" in line]
            assert sorted(line.split(": ")[1] for line in logged_in) == [
                f"discord-{i}" for i in range(SHARDS)
            ]  # one line per shard, each naming its shard (they read as duplicates before)
        finally:
            replicas.kill_all()
