"""The SQLite store's journal owners: which process accepted each pending entry, and the
adoption of a dead owner's entries (see :class:`~agent_runner.store.OwnedJournal`).

Each function runs inside one transaction of :class:`~agent_runner.store.SQLiteStore`'s group
committer (``BEGIN IMMEDIATE`` for a write): the liveness check of the owner and the move of
its entries happen under the file's write lock, so two processes never adopt one entry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from agent_runner.store import _sqlite_leases as leases
from agent_runner.store._base import Fence, JournalEntry, replica_lease, source_of_key


def owners(conn: sqlite3.Connection) -> list[str]:
    """The owners of pending entries."""
    rows = conn.execute("SELECT DISTINCT owner FROM journal WHERE completed_at IS NULL")
    return sorted(str(row[0]) for row in rows)


def adopt(
    conn: sqlite3.Connection,
    owner: str,
    *,
    by: str,
    fence: Fence,
    sources: Collection[str],
    clock: leases.Clock,
) -> list[JournalEntry]:
    """Move ``owner``'s pending entries of ``sources`` to ``by`` unless ``owner`` is alive.

    Raises:
        LeaseLostError: ``fence`` no longer holds (nothing moved).
    """
    held = leases.current(conn, fence.lease, clock=clock)
    if held is None or held.token != fence.token:
        raise fence.refused()
    if leases.current(conn, replica_lease(owner), clock=clock) is not None:
        return []
    rows = conn.execute(
        "SELECT seq, key, conversation_key, payload, accepted_at FROM journal "
        "WHERE completed_at IS NULL AND owner = ? ORDER BY seq",
        (owner,),
    ).fetchall()
    entries = [JournalEntry(*row) for row in rows if source_of_key(row[1]) in sources]
    conn.executemany(
        "UPDATE journal SET owner = ? WHERE seq = ?", [(by, entry.seq) for entry in entries]
    )
    return entries


__all__ = ["adopt", "owners"]
