"""The SQLite store's file: its tables, its pragmas and how a connection to it is opened.

One file holds everything :class:`~agent_runner.store.SQLiteStore` keeps: the journal of
accepted inputs, the reply ledger (claims, attempts, outcomes, delivered parts), cursors,
conversation memory, the cost ledger, used payment references, key-value state, leases (a
released lease keeps its row, so its next token is still greater) and shared counters
(:mod:`agent_runner.store._sqlite_counters`). ``PRAGMA user_version`` records the schema's
version; a file below :data:`SCHEMA_VERSION` gets the tables created (``IF NOT EXISTS``: a
file another process created already is left as it is) and older tables migrated (files
before version 3 get ``replies.attempts``, before version 5 ``journal.owner``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# Rowids (``seq``, ``id``) are max(rowid) + 1 on insert, so they grow in insertion order
# (AUTOINCREMENT is not needed and costs a write to sqlite_sequence per insert).
SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    conversation_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    completed_at REAL,
    owner TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS journal_pending ON journal (seq) WHERE completed_at IS NULL;
CREATE TABLE IF NOT EXISTS replies (
    key TEXT NOT NULL,
    output TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    ok INTEGER,
    error TEXT,
    finished_at REAL,
    attempts INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (key, output)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reply_parts (
    key TEXT NOT NULL,
    output TEXT NOT NULL,
    part INTEGER NOT NULL,
    ref TEXT NOT NULL,
    PRIMARY KEY (key, output, part)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS memory (
    id INTEGER PRIMARY KEY,
    conversation_key TEXT NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    name TEXT,
    message_key TEXT,
    created_at REAL NOT NULL,
    tokens INTEGER NOT NULL,
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS memory_conversation ON memory (conversation_key, id);
CREATE TABLE IF NOT EXISTS costs (
    id INTEGER PRIMARY KEY,
    request_key TEXT NOT NULL,
    conversation_key TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost REAL NOT NULL,
    day TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS costs_conversation ON costs (conversation_key, day);
CREATE INDEX IF NOT EXISTS costs_day ON costs (day);
CREATE TABLE IF NOT EXISTS payments (
    reference TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    used_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    holder TEXT,
    token INTEGER NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    settled REAL NOT NULL,
    expires_at REAL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counter_holds (
    name TEXT NOT NULL,
    hold TEXT NOT NULL,
    amount REAL NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (name, hold)
) WITHOUT ROWID;
PRAGMA user_version = 5;
"""
SCHEMA_VERSION = 5
"""The ``user_version`` :data:`SCHEMA` sets."""


def connect(path: str, *, synchronous: str, busy_timeout: float) -> sqlite3.Connection:
    """Open ``path`` (creating its folder) in WAL mode, with the tables created.

    ``path`` may be ``":memory:"`` or a ``file:`` URI. The connection is in autocommit mode
    (the caller issues ``BEGIN``) and may be used from a thread other than this one.
    """
    if path != ":memory:" and not path.startswith("file:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path,
        timeout=busy_timeout,
        isolation_level=None,
        check_same_thread=False,
        uri=path.startswith("file:"),
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            conn.executescript(f"BEGIN IMMEDIATE; {SCHEMA} COMMIT;")
            _migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring tables an older version created up to :data:`SCHEMA` (idempotent)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(replies)")}
    if "attempts" not in columns:
        conn.execute("ALTER TABLE replies ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1")
    columns = {row[1] for row in conn.execute("PRAGMA table_info(journal)")}
    if "owner" not in columns:  # the process that accepted a pending entry (replicas)
        conn.execute("ALTER TABLE journal ADD COLUMN owner TEXT NOT NULL DEFAULT ''")


__all__ = ["SCHEMA", "SCHEMA_VERSION", "connect"]
