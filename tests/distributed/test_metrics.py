"""The distributed runtime's metrics on the operator endpoints, with worker processes on a
real Redis: partitions owned, claims, redeliveries after a SIGKILL, RPC outcomes, outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis.asyncio as redis

from agent_runner.core import AgentId, CancellationToken, try_get_known_serializers_for_type
from agent_runner.distributed import DistributedAgentRuntime
from agent_runner.errors import RPCTimeoutError
from agent_runner.observability import AdminSettings, OperatorEndpoint
from agent_runner.runner.conversation import CONVERSATION_AGENT_TYPE
from tests.distributed._workers import Workers, lease_holders, wait_for
from tests.distributed.metrics_agents import Done, Work
from tests.distributed.runner_app import running_on_workers
from tests.observability.support import free_port, get, sample

PARTITIONS = 4
CONVERSATIONS = CONVERSATION_AGENT_TYPE
OWNED = "agent_runner_distributed_partitions_owned"
CLAIMS = "agent_runner_distributed_partition_claims_total"
REDELIVERIES = "agent_runner_distributed_redeliveries_total"
RPC = "agent_runner_distributed_rpc_total"
OUTBOX = "agent_runner_distributed_outbox_depth"


@pytest.fixture
def workers(redis_url: str, redis_prefix: str) -> Iterator[Workers]:
    made = Workers(redis_url, redis_prefix, "tests.distributed.metrics_agents")
    yield made
    made.close()


async def metrics(url: str) -> str:
    status, text = await get(f"{url}/metrics")
    assert status == 200
    return text


def start_worker(workers: Workers, name: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Start worker ``name`` with its endpoint on a free port; its URL."""
    port = free_port()
    monkeypatch.setenv("AGENT_RUNNER_ADMIN_PORT", str(port))
    workers.start(name, partitions=PARTITIONS)
    monkeypatch.setenv("AGENT_RUNNER_ADMIN_PORT", "0")
    return f"http://127.0.0.1:{port}"


async def test_claims_redeliveries_and_rpc_outcomes_move_on_the_endpoints(
    workers: Workers,
    rclient: redis.Redis,
    redis_url: str,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w1 = start_worker(workers, "w1", monkeypatch)

    async def owned_by(worker: str) -> bool:
        holders = await lease_holders(rclient, redis_prefix, "slow", PARTITIONS)
        return set(holders) == {worker}

    await wait_for(lambda: owned_by("w1"), what="w1 owns every partition")
    # The caller: a client runtime in this process, with an endpoint of its own.
    client = DistributedAgentRuntime(redis_url, prefix=redis_prefix, rpc_timeout=5.0)
    client.add_message_serializer(try_get_known_serializers_for_type(Done))
    endpoint = OperatorEndpoint(AdminSettings(port=free_port()))
    endpoint.watch(client)
    await endpoint.start(store=None, ready=asyncio.Event(), pending=lambda: 0, connectors=())
    assert endpoint.url is not None
    hanging = f"{redis_prefix}:rec:hanging"

    async def in_hand(count: int) -> bool:
        return await rclient.llen(hanging) >= count

    try:
        assert await client.send_message(Work("hi"), AgentId("slow", "a")) == Done("hi", "w1")
        with pytest.raises(ValueError, match="boom"):
            await client.send_message(Work("boom"), AgentId("slow", "b"))
        with pytest.raises(RPCTimeoutError):
            await client.send_message(Work("hang-timeout"), AgentId("slow", "c"))
        token = CancellationToken()
        cancelled = asyncio.ensure_future(
            client.send_message(Work("hang-cancel"), AgentId("slow", "d"), cancellation_token=token)
        )
        await wait_for(lambda: in_hand(2), what="w1 has the second hanging message")
        token.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        text = await metrics(endpoint.url)
        assert sample(text, RPC, outcome="ok") == 1
        assert sample(text, RPC, outcome="error") == 1
        assert sample(text, RPC, outcome="timeout") == 1
        assert sample(text, RPC, outcome="cancelled") == 1
        assert sample(text, OUTBOX) >= 0

        text = await metrics(w1)
        assert sample(text, OWNED, agent_type="slow") == PARTITIONS
        assert sample(text, CLAIMS, kind="acquired") == PARTITIONS
        assert sample(text, CLAIMS, kind="taken_over") == 0
        assert sample(text, REDELIVERIES, kind="reclaimed") == 0

        # A message in w1's hands when it dies: w2 takes the partition over and claims it.
        call = asyncio.ensure_future(client.send_message(Work("hang-kill"), AgentId("slow", "e")))
        await wait_for(lambda: in_hand(3), what="w1 has the third hanging message")
        workers.kill("w1")
        w2 = start_worker(workers, "w2", monkeypatch)
        await wait_for(lambda: owned_by("w2"), what="w2 owns every partition")

        async def redelivered() -> bool:
            try:
                text = await metrics(w2)
            except OSError:
                return False
            # claimed first, then re-read by w2's read loop: wait for both
            reclaimed = sample(text, REDELIVERIES, kind="reclaimed")
            return reclaimed >= 1 and sample(text, REDELIVERIES, kind="reread") >= 1

        await wait_for(redelivered, what="w2 claimed w1's pending entries and read them")
        text = await metrics(w2)
        assert sample(text, OWNED, agent_type="slow") == PARTITIONS
        assert sample(text, CLAIMS, kind="acquired") == PARTITIONS
        assert sample(text, CLAIMS, kind="taken_over") >= 1
        assert sample(text, REDELIVERIES, kind="reread") >= 1
        await asyncio.gather(call, return_exceptions=True)  # answered by w2, or timed out
        assert workers.terminate("w2") == 0, workers.logs()
    finally:
        await endpoint.stop()
        await client.close()


async def test_a_runner_on_workers_counts_its_rpcs(
    runner_workers: Workers,
    rclient: redis.Redis,
    redis_url: str,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner_workers.start("w1", partitions=PARTITIONS)

    async def hosted() -> bool:
        holders = await lease_holders(rclient, redis_prefix, CONVERSATIONS, PARTITIONS)
        return set(holders) == {"w1"}

    await wait_for(hosted, what="w1 owns every partition")
    port = free_port()
    monkeypatch.setenv("AGENT_RUNNER_ADMIN_PORT", str(port))  # the runner in this process
    url = f"http://127.0.0.1:{port}"
    async with running_on_workers(redis_url, redis_prefix) as chat:
        for n in range(4):
            await chat.push(f"hi {n}", conversation_id=f"c{n}")
        await chat.wait_for_replies(4, timeout=15)
        text = await metrics(url)
        assert sample(text, RPC, outcome="ok") == 4  # one turn each, on w1 or the runner
        assert sample(text, RPC, outcome="error") == 0
        assert sample(text, "agent_runner_messages_handled_total", outcome="ok") == 4

        async def owned_agrees() -> bool:  # the runner hosts conversations too
            holders = await lease_holders(rclient, redis_prefix, CONVERSATIONS, PARTITIONS)
            ours = sum(holder not in ("w1", "") for holder in holders)
            text = await metrics(url)
            return sample(text, OWNED, agent_type=CONVERSATIONS) == ours

        await wait_for(owned_agrees, what="the runner's partitions as its leases say")
