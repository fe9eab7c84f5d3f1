"""SQLiteStore: the Store contract, plus sharing a file, reopening and surviving SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_runner.errors import StoreError
from agent_runner.store import SQLiteStore, Store
from tests.store.contract import StoreContract, cost, item
from tests.store.contract_leases import LeaseContract
from tests.store.contract_owners import OwnedJournalContract, alive

ROOT = Path(__file__).resolve().parents[2]


class TestSQLiteStore(StoreContract, LeaseContract, OwnedJournalContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[Store]:
        s = SQLiteStore(tmp_path / "nested" / "dir" / "store.sqlite3")
        await s.open()
        yield s
        await s.close()


async def _child(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.store._child",
        *args,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def test_reopen_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    await store.journal_accept("a", "c1", '{"x": 1}')
    await store.journal_accept("b", "c2", '{"x": 2}')
    await store.journal_complete("a")
    await store.reply_claim("a#0", "out")
    await store.cursor_set("since", "42")
    await store.memory_append("c1", [item("hello", meta={"m": 1})], keep=5)
    await store.cost_add(cost(0.5, conversation="c1"))
    await store.payment_use("sig", key="a")
    await store.state_set("s", "v")
    await store.close()

    again = SQLiteStore(path)
    await again.open()
    try:
        assert [(e.key, e.payload) for e in await again.journal_pending()] == [("b", '{"x": 2}')]
        assert await again.journal_accept("a", "c1", "{}") is False
        assert await again.reply_claim("a#0", "out") is False
        assert await again.cursor_get("since") == "42"
        assert [(i.text, i.meta) for i in await again.memory_load("c1", 5)] == [("hello", {"m": 1})]
        assert await again.cost_sum(conversation_key="c1") == 0.5
        assert await again.payment_use("sig", key="other") is False
        assert await again.state_get("s") == "v"
    finally:
        await again.close()


async def test_wal_mode_and_tables_on_open(tmp_path: Path) -> None:
    path = tmp_path / "new" / "s.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"journal", "replies", "cursors", "memory", "costs", "payments", "state"} <= tables
    finally:
        conn.close()


@pytest.mark.parametrize(("synchronous", "level"), [("FULL", 2), ("NORMAL", 1)])
async def test_synchronous_setting(tmp_path: Path, synchronous: str, level: int) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3", synchronous=synchronous)  # type: ignore[arg-type]
    await store.open()
    try:
        got = await store._require().call(
            lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0], write=False
        )
        assert got == level
        assert await store.journal_accept("k", "c", "{}") is True
    finally:
        await store.close()


async def test_an_unusable_path_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "a-directory").mkdir()
    store = SQLiteStore(tmp_path / "a-directory")
    with pytest.raises(StoreError, match="cannot open the SQLite store"):
        await store.open()
    await store.close()


async def test_calls_before_open_are_refused(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    with pytest.raises(StoreError, match="not open"):
        await store.journal_accept("k", "c", "{}")
    await store.flush()  # harmless when closed
    await store.close()


async def test_reply_result_is_recorded_lazily_and_flushed(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    await store.reply_claim("k#0", "out")
    await store.reply_result("k#0", "out", ok=False, error="timeout")
    await store.reply_result("never-claimed#0", "out", ok=True)
    await store.close()  # close flushes lazy writes
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT key, ok, error FROM replies ORDER BY key").fetchall()
    finally:
        conn.close()
    assert rows == [("k#0", 0, "timeout"), ("never-claimed#0", 1, None)]


async def test_sqlite_runs_in_one_thread_off_the_event_loop(tmp_path: Path) -> None:
    threads: set[int] = set()
    store = SQLiteStore(tmp_path / "s.sqlite3")
    await store.open()
    try:
        db = store._require()

        def where(conn: sqlite3.Connection) -> None:
            threads.add(threading.get_ident())

        await asyncio.gather(*(db.call(where, write=n % 2 == 0) for n in range(20)))
        await store.journal_accept("k", "c", "{}")
        await db.call(where, write=False)
    finally:
        await store.close()
    assert len(threads) == 1
    assert threading.get_ident() not in threads


async def test_concurrent_writes_are_group_committed(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    await store.open()
    try:
        before = store.batches
        results = await asyncio.gather(
            *(store.journal_accept(f"k{n}", "c", "{}") for n in range(500))
        )
        assert all(results)
        # 500 callers share a handful of transactions, not 500
        assert store.batches - before < 50
    finally:
        await store.close()


async def test_a_failing_operation_does_not_fail_its_batch(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    await store.open()
    try:
        db = store._require()

        def broken(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO state (key, value) VALUES ('half', 'written')")
            conn.execute("INSERT INTO no_such_table VALUES (1)")

        accepted = store.journal_accept("before", "c", "{}")
        failing = db.call(broken, write=True)
        after = store.journal_accept("after", "c", "{}")
        results = await asyncio.gather(accepted, failing, after, return_exceptions=True)
        assert results[0] is True and results[2] is True
        assert isinstance(results[1], StoreError)
        assert await store.state_get("half") is None  # rolled back alone
        assert [e.key for e in await store.journal_pending()] == ["before", "after"]
    finally:
        await store.close()


async def test_two_instances_on_one_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    one, two = SQLiteStore(path), SQLiteStore(path)
    await one.open()
    await two.open()
    try:
        keys = [f"k{n}" for n in range(100)]
        first = asyncio.gather(*(one.journal_accept(k, "c", "{}") for k in keys))
        second = asyncio.gather(*(two.journal_accept(k, "c", "{}") for k in keys))
        a, b = await asyncio.gather(first, second)
        assert all(x != y for x, y in zip(a, b, strict=True))  # exactly one accepted each key
        claims = await asyncio.gather(
            *(s.reply_claim("m#0", "out") for s in (one, two) for _ in range(20))
        )
        assert claims.count(True) == 1
        await one.cursor_set("since", "9")
        assert await two.cursor_get("since") == "9"
        assert [e.key for e in await two.journal_pending()] == keys
    finally:
        await one.close()
        await two.close()


async def test_two_processes_on_one_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    n = 300
    store = SQLiteStore(path)
    await store.open()
    child = await _child("race", str(path), str(n))
    try:
        assert child.stdin is not None and child.stdout is not None
        assert await asyncio.wait_for(child.stdout.readline(), 20) == b"ready\n"
        keys = [f"k{i}" for i in range(n)]
        child.stdin.write(b"go\n")
        await child.stdin.drain()
        accepted = await asyncio.gather(*(store.journal_accept(k, "c", "{}") for k in keys))
        claimed = await asyncio.gather(*(store.reply_claim(k, "out") for k in keys))
        paid = await asyncio.gather(*(store.payment_use(k, key=f"parent-{k}") for k in keys))
        leased = [
            t is not None
            for t in await asyncio.gather(*(store.lease_acquire(k, "parent", 60) for k in keys))
        ]
        theirs = json.loads(await asyncio.wait_for(child.stdout.readline(), 30))
        assert await asyncio.wait_for(child.wait(), 10) == 0
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await store.close()
    won = {"accepted": accepted, "claimed": claimed, "paid": paid, "leased": leased}
    for field, ours in won.items():
        mine = {k for k, ok in zip(keys, ours, strict=True) if ok}
        assert mine.isdisjoint(theirs[field]), field
        assert mine | set(theirs[field]) == set(keys), field


async def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "killed.sqlite3"
    child = await _child("accept-forever", str(path))
    acked: list[str] = []
    try:
        assert child.stdout is not None
        while len(acked) < 200:
            line = await asyncio.wait_for(child.stdout.readline(), 20)
            assert line, "the child exited early"
            acked.append(line.decode().strip())
        child.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(child.wait(), 10) == -signal.SIGKILL
        rest = await asyncio.wait_for(child.stdout.read(), 5)
        acked.extend(rest.decode().split())
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()

    store = SQLiteStore(path)
    await store.open()
    try:
        pending = {e.key: e.payload for e in await store.journal_pending()}
        for key in acked:
            assert key in pending, f"{key} was acknowledged but lost"
            assert await store.journal_accept(key, "c", "{}") is False
        remembered = {i.text for i in await store.memory_load("c", 10_000)}
        assert set(acked) <= remembered
        assert all(pending[k] == json.dumps({"n": int(k[1:])}) for k in acked)
        cursors = [await store.cursor_get(f"cursor-{n}") for n in range(5)]
        assert all(c is not None for c in cursors)
    finally:
        await store.close()


async def test_a_version_1_file_gets_the_reply_ledger(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE replies (key TEXT NOT NULL, output TEXT NOT NULL, claimed_at REAL NOT "
        "NULL, ok INTEGER, error TEXT, finished_at REAL, PRIMARY KEY (key, output)) "
        "WITHOUT ROWID; INSERT INTO replies VALUES ('a#0', 'out', 1.0, NULL, NULL, NULL);"
        "PRAGMA user_version = 1;"
    )
    conn.close()
    store = SQLiteStore(path)
    await store.open()
    try:
        resumed = await store.reply_open("a#0", "out")  # claimed by the old version, no result
        assert (resumed.attempt, resumed.resumed) == (2, True)
        await store.reply_part("a#0", "out", 0, "id-0")
        assert dict((await store.reply_open("a#0", "out")).parts) == {0: "id-0"}
    finally:
        await store.close()


async def test_a_version_4_files_pending_entries_have_no_owner(tmp_path: Path) -> None:
    path = tmp_path / "v4.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE journal (seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, "
        "conversation_key TEXT NOT NULL, payload TEXT NOT NULL, accepted_at REAL NOT NULL, "
        "completed_at REAL); INSERT INTO journal VALUES (1, 'tg:1', 'c', '{}', 1.0, NULL);"
        "PRAGMA user_version = 4;"
    )
    conn.close()
    store = SQLiteStore(path)
    await store.open()
    try:
        fence = await alive(store, "b")
        adopted = await store.journal_adopt("", by="b", fence=fence, sources=["tg"])
        assert [e.key for e in adopted] == ["tg:1"]  # recovered by the first replica up
    finally:
        await store.close()
