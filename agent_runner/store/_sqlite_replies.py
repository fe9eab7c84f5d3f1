"""The SQLite store's reply ledger: each function is one operation run inside a transaction.

:class:`~agent_runner.store.SQLiteStore` runs them through its group committer. A reply's
row in ``replies`` is its claim (``attempts`` counts the attempts whose outcome was unknown
when the next began; ``ok`` is NULL until the outcome is recorded); ``reply_parts`` holds
the parts of a split reply delivered so far.
"""

from __future__ import annotations

import sqlite3

from agent_runner.store._base import ReplyState


def claim(conn: sqlite3.Connection, key: str, output: str, *, at: float) -> bool:
    """Insert the reply's row; True when this call created it."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO replies (key, output, claimed_at) VALUES (?, ?, ?)",
        (key, output, at),
    )
    return cursor.rowcount == 1


def open_reply(conn: sqlite3.Connection, key: str, output: str, *, at: float) -> ReplyState:
    """Claim the reply, or count the next attempt at it when it has no outcome yet."""
    if claim(conn, key, output, at=at):
        return ReplyState(attempt=1)
    attempts, ok, error = conn.execute(
        "UPDATE replies SET attempts = attempts + (ok IS NULL) "
        "WHERE key = ? AND output = ? RETURNING attempts, ok, error",
        (key, output),
    ).fetchone()
    rows = conn.execute(
        "SELECT part, ref FROM reply_parts WHERE key = ? AND output = ?", (key, output)
    ).fetchall()
    return ReplyState(attempts, None if ok is None else bool(ok), error, dict(rows))


def part(conn: sqlite3.Connection, key: str, output: str, *, part: int, ref: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO reply_parts (key, output, part, ref) VALUES (?, ?, ?, ?)",
        (key, output, part, ref),
    )


def result(
    conn: sqlite3.Connection, key: str, output: str, *, ok: bool, error: str | None, at: float
) -> None:
    conn.execute(
        "INSERT INTO replies (key, output, claimed_at, ok, error, finished_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key, output) DO UPDATE SET "
        "ok = excluded.ok, error = excluded.error, finished_at = excluded.finished_at",
        (key, output, at, int(ok), error, at),
    )
