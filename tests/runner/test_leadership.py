"""Single-consumer inputs under store leases: two runners on one SQLite file (two stores, as
two processes would have), one input running at a time, hand-over on stop and on loss, and
the old holder's fenced cursor write refused after another took over."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from agent_runner import AgentRuntime, BaseConnector, InputLeases, Sink
from agent_runner.errors import ConfigurationError, LeaseLostError
from agent_runner.runner.leadership import FencedStore, Leadership
from agent_runner.store import InMemoryStore, SQLiteStore, Store

LEASES = InputLeases(ttl=1.0, retry=0.05)


class Poller(BaseConnector):
    """A single-consumer input that counts who runs it and writes a cursor while it runs."""

    name = "poller"
    single_consumer = True
    running: set[str] = set()
    overlaps = 0

    def __init__(self, replica: str) -> None:
        super().__init__()
        self.replica = replica
        self.store: Store | None = None
        self.lease_account = "bot-1"

    def bind_store(self, store: Store) -> None:
        self.store = store

    async def run(self, sink: Sink) -> None:
        assert self.store is not None
        if Poller.running:
            Poller.overlaps += 1
        Poller.running.add(self.replica)
        try:
            while True:
                await self.store.cursor_set("poller:offset", self.replica)
                await asyncio.sleep(0.02)
        finally:
            Poller.running.discard(self.replica)


async def echo(message: object, context: object) -> str:
    return "ok"


@contextlib.asynccontextmanager
async def replica(path: Path, name: str) -> AsyncIterator[AgentRuntime]:
    poller = Poller(name)
    store = SQLiteStore(path, synchronous="NORMAL")
    runtime = AgentRuntime(
        [poller], [], echo, store=store, handle_signals=False, input_leases=LEASES
    )
    task = asyncio.create_task(runtime.run())
    await runtime.wait_started()
    try:
        yield runtime
    finally:
        await runtime.stop()
        await task


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - the input's state changes without an event
            await asyncio.sleep(0.01)


async def test_one_replica_runs_the_input_and_a_stop_hands_it_over(tmp_path: Path) -> None:
    Poller.running.clear()
    Poller.overlaps = 0
    path = tmp_path / "shared.sqlite3"
    async with replica(path, "a") as a:
        await until(lambda: Poller.running == {"a"})
        async with replica(path, "b") as b:
            await asyncio.sleep(LEASES.ttl * 1.5)  # several renewals: a keeps it
            assert Poller.running == {"a"}
            assert a.leadership.held == {"input:poller:bot-1"} and not b.leadership.held
            await a.stop()
            await until(lambda: Poller.running == {"b"})
            assert b.leadership.held == {"input:poller:bot-1"}
    assert Poller.overlaps == 0


async def test_a_holder_that_lost_its_lease_stops_and_its_cursor_write_is_refused(
    tmp_path: Path,
) -> None:
    Poller.running.clear()
    path = tmp_path / "shared.sqlite3"
    async with replica(path, "a") as a:
        await until(lambda: Poller.running == {"a"})
        view = a.leadership.store_for(a._inputs[0])
        assert isinstance(view, FencedStore) and view.fence is not None
        other = SQLiteStore(path, synchronous="NORMAL")
        await other.open()
        try:
            # another replica takes the lease over (as after a pause longer than ttl)
            await other.lease_release("input:poller:bot-1", a.leadership.holder)
            assert await other.lease_acquire("input:poller:bot-1", "thief", 60.0) is not None
            with pytest.raises(LeaseLostError):
                await view.cursor_set("poller:offset", "late write")
            await until(lambda: not Poller.running)  # stopped: refused write or renewal
            assert await other.cursor_get("poller:offset") == "a"
            await asyncio.sleep(LEASES.retry * 4)
            assert not Poller.running  # stands by while the lease is elsewhere
            await other.lease_release("input:poller:bot-1", "thief")
            await until(lambda: Poller.running == {"a"})
        finally:
            await other.close()


def test_leases_default_on_only_for_a_store_shared_by_design() -> None:
    inputs = [Poller("a")]
    assert Leadership.of(None, InMemoryStore(), inputs).leases is None
    assert Leadership.of(None, SQLiteStore(":memory:"), inputs).leases is None
    shared = InMemoryStore()
    shared.shared = True  # type: ignore[attr-defined]  # as RedisStore declares
    assert Leadership.of(None, shared, inputs).leases == InputLeases()
    assert Leadership.of(True, InMemoryStore(), inputs).leases == InputLeases()
    assert Leadership.of(False, shared, inputs).leases is None
    assert InputLeases(ttl=9.0, retry=1.0).takeover_bound == 10.0
    with pytest.raises(ConfigurationError):
        InputLeases(ttl=1.0, renew=2.0)


def test_lease_names_derive_from_the_account_never_the_token() -> None:
    from connectors.telegram import TelegramConnector

    token = "123456:secret-token-value"
    polling = TelegramConnector(token=token)
    assert polling.single_consumer
    assert polling.lease_name.startswith("input:telegram:") and "secret" not in polling.lease_name
    assert TelegramConnector(token=token).lease_name == polling.lease_name
    assert TelegramConnector(token="654321:other").lease_name != polling.lease_name
    hook = TelegramConnector(
        token=token, mode="webhook", webhook_url="https://x.example/t", webhook_secret="s"
    )
    assert not hook.single_consumer


class Shard(BaseConnector):
    """One of four single-consumer inputs of one lease group (as a Discord bot's shards)."""

    single_consumer = True
    lease_group = "input:shards:bot-1"

    def __init__(self, index: int) -> None:
        super().__init__(name=f"shard-{index}")


async def test_a_lease_group_is_shared_out_and_a_stopped_replicas_share_moves(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.sqlite3"
    runtimes = [
        AgentRuntime(
            [Shard(i) for i in range(4)],
            [],
            echo,
            store=SQLiteStore(path, synchronous="NORMAL"),
            handle_signals=False,
            input_leases=InputLeases(ttl=3.0, retry=0.05),
        )
        for _ in range(2)
    ]
    a, b = runtimes
    tasks = [asyncio.create_task(runtime.run()) for runtime in runtimes]
    try:
        await until(lambda: len(a.leadership.held) == 2 and len(b.leadership.held) == 2)
        assert not a.leadership.held & b.leadership.held
        await a.stop()
        await tasks[0]
        await until(lambda: len(b.leadership.held) == 4)
    finally:
        for runtime in runtimes:
            await runtime.stop()
        await asyncio.gather(*tasks)
