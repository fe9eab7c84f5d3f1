"""The SQLite store's shared counters: each call is one transaction on the store's file.

:class:`~agent_runner.store.SQLiteStore` runs the operations through its group committer,
whose transactions begin with ``BEGIN IMMEDIATE``: a take reads and writes under the file's
write lock, so processes sharing the file never both slip under a limit. Tables
``counters`` (settled value, expiry) and ``counter_holds`` are in
:mod:`agent_runner.store._schema`; expired rows are deleted when next read.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from agent_runner.store._counters import Refusal, _at, _hold_until, refuses

Submit = Callable[[Callable[[sqlite3.Connection], Any]], "asyncio.Future[Any]"]


def _value(conn: sqlite3.Connection, name: str, now: float) -> float | None:
    row = conn.execute(
        "SELECT settled, expires_at FROM counters WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        return None
    if row[1] is not None and row[1] <= now:
        conn.execute("DELETE FROM counters WHERE name = ?", (name,))
        conn.execute("DELETE FROM counter_holds WHERE name = ?", (name,))
        return None
    conn.execute("DELETE FROM counter_holds WHERE name = ? AND expires_at <= ?", (name, now))
    (held,) = conn.execute(
        "SELECT COALESCE(SUM(amount), 0) FROM counter_holds WHERE name = ?", (name,)
    ).fetchone()
    return float(row[0]) + float(held)


def take(
    conn: sqlite3.Connection,
    limits: Mapping[str, float],
    amount: float,
    *,
    hold: str | None,
    hold_until: float,
    expires_in: float | None,
    seeded: bool,
    clock: Callable[[], float],
) -> Refusal | None:
    """Add ``amount`` to every counter of ``limits``, or refuse (see ``SharedCounters``)."""
    now = clock()
    for name, limit in limits.items():
        value = _value(conn, name, now)
        if value is None and seeded:
            return Refusal(name, 0.0, limit, missing=True)
        if refuses(value or 0.0, amount, limit):
            return Refusal(name, value or 0.0, limit)
    for name in limits:
        settled = amount if hold is None else 0.0
        conn.execute(
            "INSERT INTO counters (name, settled, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET settled = settled + excluded.settled",
            (name, settled, _at(now, expires_in)),
        )
        if hold is not None:
            conn.execute(
                "INSERT OR REPLACE INTO counter_holds (name, hold, amount, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (name, hold, amount, hold_until),
            )
    return None


def settle(conn: sqlite3.Connection, hold: str | None, names: Sequence[str], amount: float) -> None:
    """End ``hold`` on ``names``; add ``amount`` to those of them that exist."""
    for name in names:
        if hold is not None:
            conn.execute("DELETE FROM counter_holds WHERE name = ? AND hold = ?", (name, hold))
        conn.execute("UPDATE counters SET settled = settled + ? WHERE name = ?", (amount, name))


def seed(
    conn: sqlite3.Connection,
    values: Mapping[str, float],
    *,
    expires_in: float | None,
    clock: Callable[[], float],
) -> None:
    """Create each counter that does not exist (or expired) with its value."""
    now = clock()
    for name, value in values.items():
        if _value(conn, name, now) is None:
            conn.execute(
                "INSERT INTO counters (name, settled, expires_at) VALUES (?, ?, ?)",
                (name, value, _at(now, expires_in)),
            )


class SQLiteCounters:
    """:class:`~agent_runner.store.SharedCounters` in a SQLite store's file (``store.counters()``).

    Args:
        submit: queues an operation as a write transaction of the store.
        clock: the store's time source (Unix seconds), read inside the transaction.
    """

    def __init__(self, submit: Submit, *, clock: Callable[[], float]) -> None:
        self._submit = submit
        self._clock = clock

    async def take(
        self,
        limits: Mapping[str, float],
        amount: float,
        *,
        hold: str | None = None,
        ttl: float | None = None,
        expires_in: float | None = None,
        seeded: bool = False,
    ) -> Refusal | None:
        op = partial(
            take,
            limits=dict(limits),
            amount=amount,
            hold=hold,
            hold_until=_hold_until(hold, ttl, self._clock()),
            expires_in=expires_in,
            seeded=seeded,
            clock=self._clock,
        )
        refusal: Refusal | None = await self._submit(op)
        return refusal

    async def settle(self, hold: str | None, names: Sequence[str], amount: float = 0.0) -> None:
        await self._submit(partial(settle, hold=hold, names=list(names), amount=amount))

    async def seed(self, values: Mapping[str, float], *, expires_in: float | None = None) -> None:
        op = partial(seed, values=dict(values), expires_in=expires_in, clock=self._clock)
        await self._submit(op)

    async def value(self, name: str) -> float | None:
        result: float | None = await self._submit(partial(_value, name=name, now=self._clock()))
        return result


__all__ = ["SQLiteCounters", "seed", "settle", "take"]
