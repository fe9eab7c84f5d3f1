"""Replicas take over each other's accepted messages (agent_runner.runner.recovery): two
runners on one SQLite file (two stores, as two processes would have), without a restart.

The SIGKILL case with real processes is in tests/distributed/test_replicas.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from agent_runner import AgentContext, AgentFunction, AgentRuntime, InputLeases, Message
from agent_runner.observability import AdminSettings
from agent_runner.store import SQLiteStore, replica_lease
from connectors.inmemory import InMemoryConnector
from tests.observability.support import free_port, get, sample

LEASES = InputLeases(ttl=1.0, retry=0.05)


def answering(name: str, hang: asyncio.Event | None = None) -> AgentFunction:
    async def agent(message: Message, context: AgentContext) -> str:
        if hang is not None:
            await hang.wait()  # accepted, never answered here
        return f"{name}: {message.text}"

    return agent


@contextlib.asynccontextmanager
async def replica(
    path: Path, name: str, *, hang: asyncio.Event | None = None, admin: AdminSettings | None = None
) -> AsyncIterator[tuple[AgentRuntime, InMemoryConnector]]:
    chat = InMemoryConnector("chat")
    runtime = AgentRuntime(
        [chat],
        [chat],
        answering(name, hang),
        store=SQLiteStore(path, synchronous="NORMAL"),
        handle_signals=False,
        input_leases=LEASES,
        shutdown_grace=0.2,
        agent_timeout=None,
        admin=admin,
    )
    task = asyncio.create_task(runtime.run())
    await runtime.wait_started()
    try:
        yield runtime, chat
    finally:
        await runtime.stop()
        await task


def payload(text: str, id: str) -> str:
    message = Message.parse(
        {"id": id, "conversation_id": "c1", "source": "chat", "author": {"id": "u"}, "text": text}
    )
    return message.model_dump_json()


async def test_a_stopped_replicas_cut_short_messages_are_answered_by_another(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.sqlite3"
    async with replica(path, "b") as (b, b_chat):
        async with replica(path, "a", hang=asyncio.Event()) as (a, a_chat):
            for n in range(3):
                await a_chat.push(f"m{n}", conversation_id="c1", id=f"m{n}")
            await a.stop()  # the grace cuts the hanging turns short: they stay a's, journaled
        replies = await b_chat.wait_for_replies(3)
        assert [(request.id, reply.text) for request, reply in replies] == [
            (f"m{n}", f"b: m{n}") for n in range(3)
        ]
        assert a_chat.sent == []
        assert b.recovery.adopted == 3
        await asyncio.sleep(LEASES.retry * 10)
        assert len(b_chat.sent) == 3  # once each
        assert await b.store.journal_pending() == []


async def test_a_dead_replicas_messages_are_taken_over_and_a_live_ones_left(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.sqlite3"
    other = SQLiteStore(path, synchronous="NORMAL")
    await other.open()
    try:
        # "alive" holds its replica lease; "ghost" died with its lease expired.
        assert await other.lease_acquire(replica_lease("alive"), "alive", 60.0) is not None
        assert await other.journal_accept("chat:g1", "chat:c1", payload("g1", "g1"), owner="ghost")
        assert await other.journal_accept("chat:l1", "chat:c1", payload("l1", "l1"), owner="alive")
        async with replica(path, "b") as (b, b_chat):
            [(request, reply)] = await b_chat.wait_for_replies(1)
            assert (request.id, reply.text) == ("g1", "b: g1")
            await asyncio.sleep(LEASES.retry * 10)  # sweeps go on: the live one's stays
            assert len(b_chat.sent) == 1
            assert [e.key for e in await b.store.journal_pending()] == ["chat:l1"]
            await other.lease_release(replica_lease("alive"), "alive")  # now it is gone
            await b_chat.wait_for_replies(2)
            assert [r.text for _, r in b_chat.sent] == ["b: g1", "b: l1"]
    finally:
        await other.close()


async def test_a_stopping_replica_takes_over_nothing_more(tmp_path: Path) -> None:
    """Once the runner stops (quiesce, before its mailboxes drain), dead replicas' messages
    are left to the replicas that go on."""
    path = tmp_path / "shared.sqlite3"
    other = SQLiteStore(path, synchronous="NORMAL")
    await other.open()
    try:
        async with replica(path, "b") as (b, b_chat):
            await b.recovery.quiesce()
            assert await other.journal_accept(
                "chat:g1", "chat:c1", payload("g1", "g1"), owner="ghost"
            )
            await asyncio.sleep(LEASES.retry * 10)
            assert b_chat.sent == [] and b.recovery.adopted == 0
        assert [e.key for e in await other.journal_pending()] == ["chat:g1"]
    finally:
        await other.close()


async def test_a_take_over_is_counted_on_the_operator_endpoint(tmp_path: Path) -> None:
    """A replica whose lease lapses (it stopped renewing: killed, or paused) has its messages
    taken over, and the replica that took them counts them on /metrics."""
    path = tmp_path / "shared.sqlite3"
    other = SQLiteStore(path, synchronous="NORMAL")
    await other.open()
    adopted, takeovers = (
        "agent_runner_recovery_adopted_messages_total",
        "agent_runner_recovery_takeovers_total",
    )
    try:
        ghost = replica_lease("ghost")
        assert await other.lease_acquire(ghost, "ghost", 60.0) is not None
        for n in range(2):
            key = f"chat:g{n}"
            assert await other.journal_accept(
                key, "chat:c1", payload(f"g{n}", f"g{n}"), owner="ghost"
            )
        async with replica(path, "b", admin=AdminSettings(port=free_port())) as (b, b_chat):
            assert b.operator is not None and b.operator.url is not None
            metrics = f"{b.operator.url}/metrics"
            await asyncio.sleep(LEASES.retry * 10)  # sweeps go on: ghost's lease is held
            status, text = await get(metrics)
            assert status == 200 and f"{adopted} 0.0" in text and f"{takeovers} 0.0" in text
            assert await other.lease_acquire(ghost, "ghost", 0.05) is not None  # its last renewal
            await b_chat.wait_for_replies(2)
            text = (await get(metrics))[1]
            assert (sample(text, adopted), sample(text, takeovers)) == (2, 1)
            assert [r.text for _, r in b_chat.sent] == ["b: g0", "b: g1"]
    finally:
        await other.close()


def test_a_replicas_lease_expires_before_its_input_leases() -> None:
    leases = InputLeases(ttl=15.0, retry=1.0)
    assert leases.replica_ttl == 10.0 and leases.recovery_bound == 11.0
    assert leases.replica_ttl + leases.renew_every <= leases.ttl
