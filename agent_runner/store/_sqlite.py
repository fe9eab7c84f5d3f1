"""The embedded default store: :class:`SQLiteStore`, one local file, no server.

SQLite runs in one dedicated thread, never on the event loop. Writes on the hot path are
group-committed (see :mod:`agent_runner.store._group_commit`): the callers queued while a
transaction runs share the next one, so a durable journal does not cap throughput.
``journal_accept`` and ``reply_claim`` return only after their transaction committed;
``journal_complete``, ``reply_result`` and ``memory_append`` are lazy (they ride with the next
awaited write, or commit within 10 ms), which keeps them ahead of anything written after
them. Uniqueness (a message key accepted once, a reply claimed once, a payment used once) is
enforced by the database, so several processes can share one file. The file's tables and
pragmas are in :mod:`agent_runner.store._schema`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from functools import partial
from typing import Any, Literal, cast

from agent_runner.errors import StoreError
from agent_runner.store import _sqlite_leases as leases
from agent_runner.store import _sqlite_owners as owners
from agent_runner.store import _sqlite_replies as replies
from agent_runner.store._base import (
    CostEntry,
    Fence,
    JournalEntry,
    LeaseInfo,
    MemoryItem,
    ReplyState,
    lease_ttl_ms,
)
from agent_runner.store._group_commit import GroupCommitter
from agent_runner.store._schema import connect
from agent_runner.store._sqlite_counters import SQLiteCounters


class SQLiteStore:
    """A :class:`~agent_runner.store.Store` in a local SQLite file (WAL mode).

    Args:
        path: the database file; its parent directory is created on open. ``":memory:"``
            gives a private, non-durable database.
        synchronous: ``"FULL"`` (default) fsyncs every commit: a committed write survives a
            power loss. ``"NORMAL"`` survives a crash of the process (SIGKILL) but may lose
            the last commits on a power loss, and is faster on slow disks.
        busy_timeout: seconds to wait for another process holding the write lock.
        max_batch: the most operations group-committed in one transaction.
        clock: the time source for stamps (Unix seconds).

    Example:
        >>> store = SQLiteStore("data/agent-runner.sqlite3")
        >>> # await store.open(); ...; await store.close()
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        busy_timeout: float = 10.0,
        max_batch: int = 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', not {synchronous!r}")
        self.path = str(path)
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self.max_batch = max_batch
        self._clock = clock
        self._db: GroupCommitter | None = None
        self._open_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r}, synchronous={self.synchronous!r})"

    @property
    def batches(self) -> int:
        """Transactions committed since open (group commit makes this far below the writes)."""
        return self._db.batches if self._db is not None else 0

    # -- lifecycle -------------------------------------------------------------------
    async def open(self) -> None:
        """Open the file (creating its directory and the tables). Idempotent."""
        async with self._open_lock:
            if self._db is not None:
                return
            db = GroupCommitter(self._connect, max_batch=self.max_batch)
            await db.start()
            self._db = db

    async def close(self) -> None:
        """Commit what is queued, then close the file. Idempotent."""
        async with self._open_lock:
            db, self._db = self._db, None
            if db is not None:
                await db.close()

    async def flush(self) -> None:
        """Wait until every write issued so far (lazy ones included) is committed."""
        if self._db is not None:
            await self._db.flush()

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path, synchronous=self.synchronous, busy_timeout=self.busy_timeout)

    def _require(self) -> GroupCommitter:
        if self._db is None:
            raise StoreError(f"{self!r} is not open: await store.open() first")
        return self._db

    def _write(self, op: Callable[[sqlite3.Connection], Any]) -> asyncio.Future[Any]:
        """Queue a write; the future resolves once its transaction committed."""
        future: asyncio.Future[Any] = self._require().submit(op, write=True)
        return future

    def _read(self, op: Callable[[sqlite3.Connection], Any]) -> asyncio.Future[Any]:
        """Queue a read behind every write issued before it."""
        future: asyncio.Future[Any] = self._require().submit(op, write=False)
        return future

    # -- journal -------------------------------------------------------------------
    async def journal_accept(
        self, key: str, conversation_key: str, payload: str, *, owner: str = ""
    ) -> bool:
        at = self._clock()

        def journal_accept(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO journal (key, conversation_key, payload, accepted_at, "
                "owner) VALUES (?, ?, ?, ?, ?)",
                (key, conversation_key, payload, at, owner),
            )
            return cursor.rowcount == 1

        return bool(await self._write(journal_accept))

    async def journal_complete(self, key: str, *, owner: str = "") -> None:
        """Mark ``key`` handled, lazily: committed with the next batch (or on flush/close)."""
        at = self._clock()

        def journal_complete(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE journal SET completed_at = ?, payload = '' "
                "WHERE key = ? AND completed_at IS NULL",
                (at, key),
            )

        self._require().submit(journal_complete, write=True, wait=False)

    async def journal_pending(self) -> list[JournalEntry]:
        def journal_pending(conn: sqlite3.Connection) -> list[JournalEntry]:
            rows = conn.execute(
                "SELECT seq, key, conversation_key, payload, accepted_at FROM journal "
                "WHERE completed_at IS NULL ORDER BY seq"
            ).fetchall()
            return [JournalEntry(*row) for row in rows]

        result: list[JournalEntry] = await self._read(journal_pending)
        return result

    async def journal_owners(self) -> list[str]:
        return cast(list[str], await self._read(owners.owners))

    async def journal_adopt(
        self, owner: str, *, by: str, fence: Fence, sources: Collection[str]
    ) -> list[JournalEntry]:
        adopt = partial(owners.adopt, owner=owner, by=by, fence=fence, sources=sources)
        return cast(list[JournalEntry], await self._write(partial(adopt, clock=self._clock)))

    # -- replies ---------------------------------------------------------------------
    async def reply_claim(self, key: str, output: str) -> bool:
        return bool(
            await self._write(partial(replies.claim, key=key, output=output, at=self._clock()))
        )

    async def reply_open(self, key: str, output: str) -> ReplyState:
        op = partial(replies.open_reply, key=key, output=output, at=self._clock())
        result: ReplyState = await self._write(op)
        return result

    async def reply_part(self, key: str, output: str, part: int, ref: str) -> None:
        await self._write(partial(replies.part, key=key, output=output, part=part, ref=ref))

    async def reply_result(
        self, key: str, output: str, *, ok: bool, error: str | None = None
    ) -> None:
        """Record a reply's outcome, lazily (committed with the next batch)."""
        op = partial(replies.result, key=key, output=output, ok=ok, error=error, at=self._clock())
        self._require().submit(op, write=True, wait=False, name="reply_result")

    # -- cursors ---------------------------------------------------------------------
    async def cursor_get(self, name: str) -> str | None:
        return await self._get("cursors", "name", name)

    async def cursor_set(self, name: str, value: str, *, fence: Fence | None = None) -> None:
        if fence is None:
            await self._put("cursors", "name", name, value)
            return
        put = partial(
            leases.fenced_put,
            table="cursors",
            column="name",
            name=name,
            value=value,
            fence=fence,
            clock=self._clock,
        )
        if not await self._write(put):
            raise fence.refused()

    # -- conversation memory ---------------------------------------------------------
    async def memory_load(self, conversation_key: str, limit: int) -> list[MemoryItem]:
        if limit <= 0:
            return []

        def memory_load(conn: sqlite3.Connection) -> list[MemoryItem]:
            rows = conn.execute(
                "SELECT role, text, name, message_key, created_at, tokens, meta FROM memory "
                "WHERE conversation_key = ? ORDER BY id DESC LIMIT ?",
                (conversation_key, limit),
            ).fetchall()
            return [
                MemoryItem(
                    role=role,
                    text=text,
                    name=name,
                    message_key=message_key,
                    created_at=created_at,
                    tokens=tokens,
                    meta=json.loads(meta),
                )
                for role, text, name, message_key, created_at, tokens, meta in reversed(rows)
            ]

        result: list[MemoryItem] = await self._read(memory_load)
        return result

    async def memory_append(
        self, conversation_key: str, items: Sequence[MemoryItem], *, keep: int
    ) -> None:
        """Append, lazily: committed with the next awaited write (a turn's reply claim, the
        input's next journal write) or within 10 ms; a read sees it at once."""
        rows = [
            (
                conversation_key,
                i.role,
                i.text,
                i.name,
                i.message_key,
                i.created_at,
                i.tokens,
                json.dumps(i.meta, separators=(",", ":")),
            )
            for i in items
        ]

        def memory_append(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO memory (conversation_key, role, text, name, message_key,"
                " created_at, tokens, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if keep <= 0:
                conn.execute("DELETE FROM memory WHERE conversation_key = ?", (conversation_key,))
                return
            conn.execute(
                "DELETE FROM memory WHERE conversation_key = ? AND id <= ("
                "SELECT id FROM memory WHERE conversation_key = ? ORDER BY id DESC "
                "LIMIT 1 OFFSET ?)",
                (conversation_key, conversation_key, keep),
            )

        self._require().submit(memory_append, write=True, wait=False, name="memory_append")

    # -- cost ledger -----------------------------------------------------------------
    async def cost_add(self, entry: CostEntry) -> None:
        def cost_add(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO costs (request_key, conversation_key, model, input_tokens,"
                " output_tokens, cost, day, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.request_key,
                    entry.conversation_key,
                    entry.model,
                    entry.input_tokens,
                    entry.output_tokens,
                    entry.cost,
                    entry.day,
                    entry.at,
                ),
            )

        await self._write(cost_add)

    async def cost_sum(
        self, *, conversation_key: str | None = None, day: str | None = None
    ) -> float:
        where: list[str] = []
        params: list[str] = []
        if conversation_key is not None:
            where.append("conversation_key = ?")
            params.append(conversation_key)
        if day is not None:
            where.append("day = ?")
            params.append(day)
        sql = "SELECT COALESCE(SUM(cost), 0.0) FROM costs"
        if where:
            sql += " WHERE " + " AND ".join(where)

        def cost_sum(conn: sqlite3.Connection) -> float:
            return float(conn.execute(sql, params).fetchone()[0])

        result: float = await self._read(cost_sum)
        return result

    # -- payments --------------------------------------------------------------------
    async def payment_use(self, reference: str, *, key: str) -> bool:
        """Mark ``reference`` used by request ``key``.

        True the first time, and again for the same ``key`` (the same request handled again
        after a restart); False when another request used it.
        """
        at = self._clock()

        def payment_use(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO payments (reference, key, used_at) VALUES (?, ?, ?)",
                (reference, key, at),
            )
            if cursor.rowcount == 1:
                return True
            row = conn.execute(
                "SELECT key FROM payments WHERE reference = ?", (reference,)
            ).fetchone()
            return row is not None and row[0] == key

        return bool(await self._write(payment_use))

    # -- key-value state -------------------------------------------------------------
    async def state_get(self, key: str) -> str | None:
        return await self._get("state", "key", key)

    async def state_set(self, key: str, value: str) -> None:
        await self._put("state", "key", key, value)

    async def state_delete(self, key: str) -> None:
        def state_delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM state WHERE key = ?", (key,))

        await self._write(state_delete)

    # -- leases ----------------------------------------------------------------------
    async def lease_acquire(self, name: str, holder: str, ttl: float) -> int | None:
        """Take or renew lease ``name`` in one transaction (atomic across processes)."""
        ttl = lease_ttl_ms(ttl) / 1000
        acquire = partial(leases.acquire, name=name, holder=holder, ttl=ttl, clock=self._clock)
        result: int | None = await self._write(acquire)
        return result

    async def lease_release(self, name: str, holder: str) -> None:
        await self._write(partial(leases.release, name=name, holder=holder))

    async def lease_holder(self, name: str) -> LeaseInfo | None:
        result: LeaseInfo | None = await self._read(
            partial(leases.current, name=name, clock=self._clock)
        )
        return result

    # -- shared counters -------------------------------------------------------------
    def counters(self) -> SQLiteCounters:
        """Shared counters in this file: limits exact across processes sharing it."""
        return SQLiteCounters(self._write, clock=self._clock)

    async def _get(self, table: str, column: str, name: str) -> str | None:
        def get(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(f"SELECT value FROM {table} WHERE {column} = ?", (name,)).fetchone()
            return None if row is None else str(row[0])

        result: str | None = await self._read(get)
        return result

    async def _put(self, table: str, column: str, name: str, value: str) -> None:
        def put(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO {table} ({column}, value) VALUES (?, ?) "
                f"ON CONFLICT ({column}) DO UPDATE SET value = excluded.value",
                (name, value),
            )

        await self._write(put)


__all__ = ["SQLiteStore"]
