"""No RPC lost across a Redis restart (issue 12): a read whose reply never arrives, and
redis-server SIGKILLed and restarted under two worker processes and 16 callers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from agent_runner.core import AgentId, try_get_known_serializers_for_type
from agent_runner.distributed import DistributedAgentRuntime
from agent_runner.distributed._codec import PayloadCodec
from agent_runner.distributed._outbox import TRANSIENT_ERRORS
from agent_runner.distributed._wire import GROUP, Keys, dump_header, load_header
from tests.distributed._restart_faults import one_round
from tests.distributed._servers import RedisServer
from tests.distributed._workers import lease_holders, wait_for
from tests.distributed.agents import Add, Counter, Total

OPTIONS = {"heartbeat_interval": 0.2, "heartbeat_ttl": 10.0, "partitions": 1, "block": 0.5}


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def _kill_read_connection(admin: redis.Redis, name: str) -> int:
    """CLIENT KILL the read loop's connection of the runtime named ``name`` (only that one:
    its leases stay held, so nothing but the read loop notices)."""
    killed = 0
    for client in await admin.client_list():
        if client.get("name") == name and client.get("cmd") == "xreadgroup":
            killed += await admin.client_kill_filter(_id=client["id"])
    return killed


async def test_entries_a_lost_read_delivered_are_handled_after_the_reconnect(
    redis_url: str, redis_prefix: str, admin: redis.Redis
) -> None:
    """The server hands entries to a worker whose read then fails (the connection drops or
    the exchange times out before the reply arrives): they are pending for that worker, and
    ``>`` never returns them again. The worker re-reads its pending entries after the
    failure, so they are answered instead of timing out."""
    worker = DistributedAgentRuntime(redis_url, prefix=redis_prefix, worker_id="w-lost", **OPTIONS)  # type: ignore[arg-type]
    await Counter.register(worker, "counter", Counter)
    worker.start()
    try:
        keys = Keys(redis_prefix)

        async def owned() -> bool:
            return await lease_holders(admin, redis_prefix, "counter", 1) == ["w-lost"]

        await wait_for(owned, what="w-lost owns the partition")
        caller = DistributedAgentRuntime(redis_url, prefix=redis_prefix, rpc_timeout=60.0)
        caller.add_message_serializer(try_get_known_serializers_for_type(Total))
        try:  # answered: the worker is past its pending entries, reading new ones (">")
            for n in range(2):
                assert (await caller.send_message(Add(0, n), AgentId("counter", "k"))).total == 0
        finally:
            await caller.close()
        codec = PayloadCodec(max_payload_bytes=1 << 20)
        codec.add(try_get_known_serializers_for_type(Add))
        type_name, content_type, data = codec.encode(Add(7, 1))
        reply_to = f"{redis_prefix}:reply:test"
        header = {
            "v": 1,
            "kind": "rpc",
            "id": "m1",
            "rid": "r1",
            "to": "counter/k",
            "sender": None,
            "reply_to": reply_to,
            "type": type_name,
            "ct": content_type,
        }
        inbox = keys.inbox("counter", 0)
        # One transaction: the request is written and read for w-lost, as by a read whose
        # reply is lost; w-lost's own blocked read is served after it and gets nothing.
        async with admin.pipeline(transaction=True) as tx:
            tx.xadd(inbox, {"h": dump_header(header), "d": data})  # type: ignore[arg-type]
            tx.xreadgroup(GROUP, "w-lost", {inbox: ">"}, count=10)
            _, delivered = await tx.execute()
        assert delivered and len(delivered[0][1]) == 1
        pending = await admin.xpending(inbox, GROUP)
        assert pending["pending"] == 1 and pending["consumers"][0]["name"] == b"w-lost"

        assert await _kill_read_connection(admin, "agent-runner:w-lost") == 1

        async def answered() -> bool:
            return await admin.xlen(reply_to) > 0

        await wait_for(answered, what="the reply (the entry the lost read delivered, handled)")
        [(_, fields)] = await admin.xrange(reply_to)
        reply = load_header(fields[b"h"])
        assert (reply["kind"], reply["rid"]) == ("reply", "r1")
        assert json.loads(fields[b"d"]) == {"key": "k", "total": 7, "worker": "w-lost"}

        async def acked() -> bool:
            return (await admin.xpending(inbox, GROUP))["pending"] == 0

        await wait_for(acked, what="the entry acknowledged")
    finally:
        await worker.close()


@pytest.mark.timeout(240)
async def test_redis_sigkill_with_aof_loses_no_rpc() -> None:
    """appendonly yes + appendfsync always: every call made before, during and after two
    kills is answered (none times out). More rounds: scripts/redis-restart-faults."""
    outcome = await one_round(1, persistent=True, rpc_timeout=60.0, kills=2)
    assert outcome.before_kill > 0 and outcome.sent > outcome.before_kill
    assert outcome.answered == outcome.sent, (
        f"{outcome.lost} of {outcome.sent} calls not answered: "
        f"{dict(outcome.errors)}, e.g. {outcome.examples}"
    )


@pytest.mark.timeout(240)
async def test_redis_sigkill_without_persistence_ends_every_rpc() -> None:
    """Without persistence the queued requests are gone with the server: every call still
    ends, answered or with an error naming what it waited for."""
    outcome = await one_round(3, persistent=False, rpc_timeout=3.0)
    assert outcome.sent > 0 and outcome.answered + sum(outcome.errors.values()) == outcome.sent
    assert set(outcome.errors) <= {"RPCTimeoutError"}, outcome.examples
    for example in outcome.examples:
        assert "counter/c" in example  # the recipient is named


async def test_requests_that_cannot_be_written_fail_with_the_connection_error() -> None:
    """Redis gone for longer than ``retry_for``: the call sent at once and the calls queued
    behind it in the outbox fail with the connection error, not after ``rpc_timeout``."""
    server = RedisServer()
    server.start()
    runtime = DistributedAgentRuntime(
        server.url, prefix="gone", rpc_timeout=300.0, retry_for=0.5, **OPTIONS
    )
    await Counter.register(runtime, "counter", Counter)
    runtime.add_message_serializer(try_get_known_serializers_for_type(Total))
    runtime.start()
    try:
        target = AgentId("counter", "k")
        assert (await runtime.send_message(Add(1), target)).total == 1
        server.kill()
        calls = [runtime.send_message(Add(1, seq=i), target) for i in range(20)]
        async with asyncio.timeout(60):
            results = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, TRANSIENT_ERRORS) for r in results), results
    finally:
        await runtime.close()
        server.cleanup()
