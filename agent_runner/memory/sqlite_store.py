"""SQLiteMemoryStore: long-term memory in a local SQLite file (the embedded default).

One table of records with their vectors (float32 blobs) and one of scope versions; searches
are exact within a scope, on a cached matrix (:mod:`agent_runner.memory.search`). Every call
runs in a worker thread on one connection (WAL), so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from agent_runner.errors import StoreError
from agent_runner.memory.records import MemoryRecord, Recalled
from agent_runner.memory.search import ScopeIndex

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ltm_records (
    id TEXT PRIMARY KEY, scope TEXT NOT NULL, kind TEXT NOT NULL, author TEXT,
    text TEXT NOT NULL, created_at REAL NOT NULL, meta TEXT NOT NULL, vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS ltm_records_scope ON ltm_records (scope, created_at);
CREATE INDEX IF NOT EXISTS ltm_records_author ON ltm_records (author);
CREATE TABLE IF NOT EXISTS ltm_scopes (scope TEXT PRIMARY KEY, version INTEGER NOT NULL);
"""
_BUMP = (
    "INSERT INTO ltm_scopes (scope, version) VALUES (?, 1) "
    "ON CONFLICT (scope) DO UPDATE SET version = version + 1"
)
_COLUMNS = "id, scope, kind, author, text, created_at, meta"


class SQLiteMemoryStore:
    """A :class:`~agent_runner.memory.MemoryBackend` in a SQLite file.

    Args:
        path: the database file (its folder is created), or ``":memory:"``.
        cached_scopes: how many scopes' matrices stay in memory between searches.

    Example::

        memory = LongTermMemory(SQLiteMemoryStore("data/memory.sqlite3"), HashingEmbedder())
    """

    def __init__(self, path: str | Path, *, cached_scopes: int = 256) -> None:
        self.path = str(path)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._index = ScopeIndex(max_scopes=cached_scopes)

    async def open(self) -> None:
        if self._db is None:
            self._db = await asyncio.to_thread(self._connect)

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(_SCHEMA)
        return db

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await asyncio.to_thread(db.close)

    async def _run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        db = self._db
        if db is None:
            raise StoreError("SQLiteMemoryStore is not open")

        def locked() -> _T:
            with self._lock:
                try:
                    return work(db)
                except sqlite3.Error as exc:
                    if db.in_transaction:
                        db.rollback()
                    raise StoreError(f"long-term memory (SQLite): {exc}") from exc

        return await asyncio.to_thread(locked)

    async def add(
        self, record: MemoryRecord, vector: bytes, *, max_items: int | None, since: float | None
    ) -> int:
        def work(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                f"INSERT INTO ltm_records ({_COLUMNS}, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*_row(record), vector),
            )
            dropped = 0
            if since is not None:
                dropped += db.execute(
                    "DELETE FROM ltm_records WHERE scope = ? AND created_at < ?",
                    (record.scope, since),
                ).rowcount
            if max_items is not None:
                dropped += db.execute(
                    "DELETE FROM ltm_records WHERE id IN (SELECT id FROM ltm_records "
                    "WHERE scope = ? ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                    (record.scope, max_items),
                ).rowcount
            db.execute(_BUMP, (record.scope,))
            db.execute("COMMIT")
            return dropped

        return await self._run(work)

    async def search(
        self, scope: str, vector: bytes, k: int, *, since: float | None
    ) -> list[Recalled]:
        def work(db: sqlite3.Connection) -> list[Recalled]:
            row = db.execute("SELECT version FROM ltm_scopes WHERE scope = ?", (scope,)).fetchone()
            version = int(row[0]) if row else 0
            if not self._index.cached(scope, version):
                rows = db.execute(
                    "SELECT id, created_at, vector FROM ltm_records WHERE scope = ? "
                    "ORDER BY created_at, rowid",
                    (scope,),
                ).fetchall()
                self._index.load(scope, version, rows)
            hits = self._index.search(scope, vector, k, since=since)
            if not hits:
                return []
            marks = ",".join("?" * len(hits))
            fetched = db.execute(  # by primary key; the scope is checked on each row
                f"SELECT {_COLUMNS} FROM ltm_records WHERE id IN ({marks})", [i for i, _ in hits]
            )
            found = {r[0]: _record(r) for r in fetched if r[1] == scope}
            return [Recalled(found[i], score) for i, score in hits if i in found]

        return await self._run(work)

    async def delete(self, scope: str, record_id: str) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            db.execute("BEGIN IMMEDIATE")
            gone = db.execute(
                "DELETE FROM ltm_records WHERE scope = ? AND id = ?", (scope, record_id)
            ).rowcount
            db.execute(_BUMP, (scope,))
            db.execute("COMMIT")
            return gone > 0

        return await self._run(work)

    async def forget_scope(self, scope: str) -> int:
        def work(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            gone = db.execute("DELETE FROM ltm_records WHERE scope = ?", (scope,)).rowcount
            db.execute(_BUMP, (scope,))
            db.execute("COMMIT")
            return int(gone)

        return await self._run(work)

    async def forget_author(self, author: str) -> int:
        def work(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            scopes = [
                r[0]
                for r in db.execute(
                    "SELECT DISTINCT scope FROM ltm_records WHERE author = ?", (author,)
                )
            ]
            gone = db.execute("DELETE FROM ltm_records WHERE author = ?", (author,)).rowcount
            db.executemany(_BUMP, [(s,) for s in scopes])
            db.execute("COMMIT")
            return int(gone)

        return await self._run(work)

    async def count(self, scope: str) -> int:
        def work(db: sqlite3.Connection) -> int:
            row = db.execute("SELECT COUNT(*) FROM ltm_records WHERE scope = ?", (scope,))
            return int(row.fetchone()[0])

        return await self._run(work)


def _row(record: MemoryRecord) -> tuple[Any, ...]:
    return (
        record.id,
        record.scope,
        record.kind,
        record.author,
        record.text,
        record.created_at,
        json.dumps(record.meta),
    )


def _record(row: tuple[Any, ...]) -> MemoryRecord:
    return MemoryRecord(
        id=row[0],
        scope=row[1],
        kind=row[2],
        author=row[3],
        text=row[4],
        created_at=row[5],
        meta=json.loads(row[6]),
    )


__all__ = ["SQLiteMemoryStore"]
