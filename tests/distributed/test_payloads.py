"""Bad payloads never crash a worker; RPCs always end; cancellation crosses the wire."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as redis

from agent_runner.core import (
    AgentId,
    CancellationToken,
    CantHandleException,
    MessageContext,
    RoutedAgent,
    rpc,
)
from agent_runner.distributed import DistributedAgentRuntime, PayloadTooLargeError, RemoteError
from agent_runner.distributed._wire import Keys, partition_of
from agent_runner.errors import RPCTimeoutError, SerializationError
from tests.distributed._workers import wait_for

LIMIT = 1000


@dataclass
class Ping:
    text: str


class Echo(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("echo")

    @rpc
    async def on_ping(self, message: Ping, ctx: MessageContext) -> str:
        return message.text


@pytest.fixture
async def runtime(redis_url: str, redis_prefix: str) -> AsyncIterator[DistributedAgentRuntime]:
    rt = DistributedAgentRuntime(
        redis_url,
        prefix=redis_prefix,
        max_payload_bytes=LIMIT,
        partitions=2,
        heartbeat_interval=0.1,
        heartbeat_ttl=1.0,
        rpc_timeout=5.0,
    )
    await Echo.register(rt, "echo", Echo)
    rt.start()
    yield rt
    await rt.close()


async def foreign_call(
    redis_url: str, prefix: str, header: dict[str, Any] | bytes, data: bytes
) -> dict[str, Any]:
    """Write an entry as a worker of another language would, and read the reply."""
    client = redis.Redis.from_url(redis_url)
    keys = Keys(prefix)
    reply_to = keys.replies(f"foreign-{uuid.uuid4().hex[:6]}")
    try:
        stream = keys.inbox("echo", partition_of("k", 2))
        raw = header if isinstance(header, bytes) else json.dumps({**header, "reply_to": reply_to})
        await client.xadd(stream, {"h": raw, "d": data})
        if isinstance(header, bytes):
            return {}
        async with asyncio.timeout(5):
            while True:
                got: Any = await client.xread({reply_to: "0-0"}, count=1, block=500)
                if got:
                    fields = got[0][1][0][1]
                    reply: dict[str, Any] = json.loads(fields[b"h"])
                    reply["data"] = fields[b"d"]
                    return reply
    finally:
        await client.aclose()


def request(rid: str, type_name: str = "Ping") -> dict[str, Any]:
    return {
        "v": 1,
        "kind": "rpc",
        "id": rid,
        "rid": rid,
        "to": "echo/k",
        "type": type_name,
        "ct": "application/json",
    }


async def test_oversize_payload_is_refused_by_the_sender(runtime: DistributedAgentRuntime) -> None:
    with pytest.raises(PayloadTooLargeError, match="over the limit of 1000 bytes"):
        await runtime.send_message(Ping("x" * LIMIT), AgentId("echo", "k"))
    assert await runtime.send_message(Ping("fine"), AgentId("echo", "k")) == "fine"


async def test_foreign_oversize_and_undecodable_payloads_get_clear_errors(
    runtime: DistributedAgentRuntime, redis_url: str, redis_prefix: str
) -> None:
    await runtime.send_message(Ping("warm"), AgentId("echo", "k"))
    big = await foreign_call(
        redis_url, redis_prefix, request("r1"), json.dumps({"text": "y" * LIMIT}).encode()
    )
    assert big["kind"] == "error" and big["rid"] == "r1"
    assert big["error"]["type"] == "PayloadTooLargeError"

    unknown = await foreign_call(redis_url, redis_prefix, request("r2", "Mystery"), b"{}")
    assert unknown["kind"] == "error" and unknown["error"]["type"] == "CantHandleException"
    assert "UnknownPayload" in unknown["error"]["message"]

    broken = await foreign_call(redis_url, redis_prefix, request("r3"), b"{not json")
    assert broken["kind"] == "error" and broken["error"]["type"] == "SerializationError"

    await foreign_call(redis_url, redis_prefix, b"not a json header", b"")
    ok = await foreign_call(redis_url, redis_prefix, request("r4"), b'{"text": "still here"}')
    assert ok["kind"] == "reply" and json.loads(ok["data"]) == "still here"
    assert await runtime.send_message(Ping("alive"), AgentId("echo", "k")) == "alive"


async def test_unserializable_message_is_refused(runtime: DistributedAgentRuntime) -> None:
    with pytest.raises(SerializationError, match="no serializer"):
        await runtime.send_message(object(), AgentId("echo", "k"))


async def test_handler_errors_carry_type_and_message(runtime: DistributedAgentRuntime) -> None:
    with pytest.raises(CantHandleException) as info:
        await runtime.send_message(42, AgentId("echo", "k"))
    assert isinstance(info.value, RemoteError) and info.value.recipient == "echo/k"


class Slow(RoutedAgent):
    """Never answers; sets ``cancelled`` when its handler's token is cancelled."""

    def __init__(self, cancelled: asyncio.Event) -> None:
        super().__init__("slow")
        self.cancelled = cancelled

    @rpc
    async def on_ping(self, message: Ping, ctx: MessageContext) -> str:
        ctx.cancellation_token.add_callback(self.cancelled.set)
        await asyncio.Event().wait()
        return "never"


async def test_a_cancel_read_before_the_handler_starts_still_cancels_it(
    redis_url: str, redis_prefix: str
) -> None:
    """The caller gives up while the request waits (here: its agent is still being
    created): the cancel is read first, and the handler starts with its token cancelled."""
    created = asyncio.Event()
    cancelled = asyncio.Event()

    async def make_slow() -> Slow:
        await created.wait()
        return Slow(cancelled)

    rt = DistributedAgentRuntime(
        redis_url,
        prefix=redis_prefix,
        partitions=1,
        heartbeat_interval=0.1,
        heartbeat_ttl=1.0,
        shutdown_grace=0.1,
    )
    await rt.register_factory("slow", make_slow)
    rt.start()
    admin = redis.Redis.from_url(redis_url)
    try:
        token = CancellationToken()
        call = asyncio.ensure_future(
            rt.send_message(Ping("x"), AgentId("slow", "k"), cancellation_token=token)
        )
        stream = Keys(redis_prefix).inbox("slow", 0)

        async def only_the_request_pending() -> bool:
            info = await admin.xpending(stream, "agent-runner")
            return info["pending"] == 1 and await admin.xlen(stream) == 1

        await wait_for(only_the_request_pending, what="the request in hand")
        token.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

        async def cancel_read() -> bool:  # delivered, and acknowledged at once when read
            [group] = await admin.xinfo_groups(stream)
            [(last, _)] = await admin.xrevrange(stream, count=1)
            return group["last-delivered-id"] == last and group["pending"] == 1

        await wait_for(cancel_read, what="the cancel read")
        created.set()
        async with asyncio.timeout(30):
            await cancelled.wait()
    finally:
        created.set()
        await admin.aclose()
        await rt.close()


async def test_timeout_names_the_recipient_and_cancels_the_handler(
    redis_url: str, redis_prefix: str
) -> None:
    cancelled = asyncio.Event()

    rt = DistributedAgentRuntime(
        redis_url,
        prefix=redis_prefix,
        rpc_timeout=0.3,
        heartbeat_interval=0.1,
        heartbeat_ttl=1.0,
        shutdown_grace=0.1,
    )
    await Slow.register(rt, "slow", lambda: Slow(cancelled))
    rt.start()
    try:
        with pytest.raises(RPCTimeoutError, match="slow/k"):
            await rt.send_message(Ping("x"), AgentId("slow", "k"))
        async with asyncio.timeout(5):
            await cancelled.wait()
        cancelled.clear()
        token = CancellationToken()
        call = asyncio.ensure_future(
            rt.send_message(Ping("y"), AgentId("slow", "k2"), cancellation_token=token)
        )
        await asyncio.sleep(0.05)
        token.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        async with asyncio.timeout(5):
            await cancelled.wait()
    finally:
        await rt.close()
