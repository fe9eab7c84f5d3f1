"""The SQLite store's leases: each function is one operation run inside a transaction.

:class:`~agent_runner.store.SQLiteStore` runs them through its group committer, whose
transactions begin with ``BEGIN IMMEDIATE``: the read and the write of an acquire happen
under the file's write lock, so two processes sharing the file never both take a lease.
A released lease keeps its row (holder NULL), so the lease's next token is still greater.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from agent_runner.store._base import Fence, LeaseInfo

Clock = Callable[[], float]
"""Read inside the transaction, so a queued operation judges expiry when it runs."""


def acquire(
    conn: sqlite3.Connection, name: str, holder: str, *, ttl: float, clock: Clock
) -> int | None:
    """Take or renew lease ``name``; its token, or None when another holds it unexpired."""
    now = clock()
    row = conn.execute(
        "SELECT holder, token, expires_at FROM leases WHERE name = ?", (name,)
    ).fetchone()
    held = row is not None and row[0] is not None and row[2] > now
    if held and row[0] != holder:
        return None
    token = int(row[1]) if held else (0 if row is None else int(row[1])) + 1
    conn.execute(
        "INSERT INTO leases (name, holder, token, expires_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
        "token = excluded.token, expires_at = excluded.expires_at",
        (name, holder, token, now + ttl),
    )
    return token


def release(conn: sqlite3.Connection, name: str, holder: str) -> None:
    """End ``holder``'s holding of lease ``name`` (nothing when another holds it)."""
    conn.execute(
        "UPDATE leases SET holder = NULL, expires_at = 0 WHERE name = ? AND holder = ?",
        (name, holder),
    )


def current(conn: sqlite3.Connection, name: str, *, clock: Clock) -> LeaseInfo | None:
    """The unexpired holding of lease ``name``, or None."""
    row = conn.execute(
        "SELECT holder, token, expires_at FROM leases "
        "WHERE name = ? AND holder IS NOT NULL AND expires_at > ?",
        (name, clock()),
    ).fetchone()
    return None if row is None else LeaseInfo(str(row[0]), int(row[1]), float(row[2]))


def fenced_put(
    conn: sqlite3.Connection,
    table: str,
    column: str,
    name: str,
    value: str,
    *,
    fence: Fence,
    clock: Clock,
) -> bool:
    """Upsert ``name = value`` into ``table`` only while ``fence`` holds; whether it did."""
    held = current(conn, fence.lease, clock=clock)
    if held is None or held.token != fence.token:
        return False
    conn.execute(
        f"INSERT INTO {table} ({column}, value) VALUES (?, ?) "
        f"ON CONFLICT ({column}) DO UPDATE SET value = excluded.value",
        (name, value),
    )
    return True


__all__ = ["Clock", "acquire", "current", "fenced_put", "release"]
