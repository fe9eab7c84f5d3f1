"""Servers the tests start themselves: a password-protected Redis, and a Redis restarted
while a worker process and a caller keep working."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis.asyncio as redis

from agent_runner.core import AgentId, try_get_known_serializers_for_type
from agent_runner.distributed import DistributedAgentRuntime, RedisStore
from tests.distributed._servers import RedisServer, ping
from tests.distributed._workers import Workers, lease_holders, wait_for
from tests.distributed.agents import Add, Counter, Total


@pytest.fixture
def password_server() -> Iterator[RedisServer]:
    server = RedisServer(password="s3cret-pw")
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def persistent_server() -> Iterator[RedisServer]:
    server = RedisServer(persistent=True)
    server.start()
    yield server
    server.cleanup()


async def test_password_protected_redis(password_server: RedisServer) -> None:
    assert not ping(password_server.port)  # refused without the password
    assert ping(password_server.port, password_server.password)

    runtime = DistributedAgentRuntime(
        password_server.url, prefix="pw", heartbeat_interval=0.1, heartbeat_ttl=1.0
    )
    await Counter.register(runtime, "counter", Counter)
    runtime.start()
    try:
        reply = await runtime.send_message(Add(2), AgentId("counter", "k"))
        assert isinstance(reply, Total) and reply.total == 2
    finally:
        await runtime.close()
    store = RedisStore(password_server.url, prefix="pw")
    await store.open()
    try:
        assert await store.journal_accept("k", "c", "{}") is True
    finally:
        await store.close()


async def test_workers_reconnect_after_a_redis_restart(persistent_server: RedisServer) -> None:
    url, prefix = persistent_server.url, "restart"
    workers = Workers(url, prefix, record=False)
    client = DistributedAgentRuntime(url, prefix=prefix, rpc_timeout=20.0)
    client.add_message_serializer(try_get_known_serializers_for_type(Total))
    admin = redis.Redis.from_url(url)
    try:
        workers.start("w1")

        async def owned() -> bool:
            return set(await lease_holders(admin, prefix, "counter", 8)) == {"w1"}

        await wait_for(owned)
        for n in range(5):
            reply = await client.send_message(Add(1, n), AgentId("counter", "k"))
        assert reply.total == 5

        await admin.aclose()
        await asyncio.to_thread(persistent_server.stop)
        # Calls made while Redis is down wait for it (capped backoff) and then complete.
        during = [
            asyncio.ensure_future(client.send_message(Add(1, n), AgentId("counter", "k")))
            for n in range(5, 10)
        ]
        await asyncio.sleep(0.3)
        await asyncio.to_thread(persistent_server.start)
        async with asyncio.timeout(30):
            totals = sorted(r.total for r in await asyncio.gather(*during))
        assert totals == [6, 7, 8, 9, 10]
        after = await client.send_message(Add(1, 10), AgentId("counter", "k"))
        assert (after.total, after.worker) == (11, "w1")
        assert workers.procs["w1"].poll() is None
    finally:
        await client.close()
        workers.close()
        if admin.connection_pool is not None:
            await admin.aclose()
