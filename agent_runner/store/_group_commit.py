"""Group commit: many concurrent callers share one SQLite transaction (and one fsync).

A :class:`GroupCommitter` owns one ``sqlite3.Connection`` and the one thread that may touch
it. Callers submit operations (functions of the connection); while a transaction runs in that
thread, newly submitted operations queue up, and the next transaction takes all of them at
once. Each caller's future resolves after the transaction holding its operation committed, so
a write is durable before it is acknowledged, yet a thousand concurrent callers cost a few
fsyncs, not a thousand.

An operation that fails (a constraint, a bug) is rolled back alone and its caller gets the
exception; the others still commit (the batch is run again with one savepoint per write).
Reads go through the same queue, so a read sees every write submitted before it (lazy ones
included).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from agent_runner.errors import StoreError

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], Any]

logger = logging.getLogger("agent_runner.store.sqlite")


@dataclass(slots=True)
class _Job:
    op: Operation
    write: bool
    future: asyncio.Future[Any] | None
    """None for a lazy write: nobody waits, a failure is logged."""
    name: str


_Outcome = tuple[bool, Any]


class GroupCommitter:
    """Runs operations on one connection in one thread, committing queued writes together.

    Args:
        connect: opens the connection (called in the worker thread).
        max_batch: the most operations per transaction.
        lazy_delay: the longest a lazy write waits for an awaited one to share its
            transaction (seconds).
        name: the worker thread's name prefix.
    """

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        max_batch: int = 1024,
        lazy_delay: float = 0.01,
        name: str = "agent-runner-sqlite",
    ) -> None:
        self._connect = connect
        self._max_batch = max_batch
        self._lazy_delay = lazy_delay
        self._lazy_timer: asyncio.TimerHandle | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._conn: sqlite3.Connection | None = None
        self._queue: deque[_Job] = deque()
        self._drainer: asyncio.Task[None] | None = None
        self.batches = 0
        """Transactions committed so far (for tests and benchmarks)."""

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._conn = await loop.run_in_executor(self._executor, self._connect)
        except (sqlite3.Error, OSError) as exc:
            self._executor.shutdown(wait=False)
            raise StoreError(f"cannot open the SQLite store: {exc}") from exc

    def submit(self, op: Operation, *, write: bool, wait: bool = True, name: str = "") -> Any:
        """Queue ``op``; return a future of its result (None when ``wait`` is false).

        A lazy write (``wait=False``) does not start a transaction of its own: it rides with
        the next awaited operation, or commits after ``lazy_delay`` seconds at the latest.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] | None = loop.create_future() if wait else None
        self._queue.append(_Job(op, write, future, name))
        if self._drainer is None:
            if wait:
                self._start_drain(loop)
            elif self._lazy_timer is None:
                self._lazy_timer = loop.call_later(self._lazy_delay, self._start_drain, loop)
        return future

    def _start_drain(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._lazy_timer is not None:
            self._lazy_timer.cancel()
            self._lazy_timer = None
        if self._drainer is None and self._queue:
            self._drainer = loop.create_task(self._drain())

    async def call(self, op: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        """Run ``op`` in its turn and return its result once its transaction committed."""
        future = self.submit(op, write=write)
        result: T = await future
        return result

    async def flush(self) -> None:
        """Wait until every operation submitted so far has run (and committed)."""
        if self._queue or self._drainer is not None:
            await self.call(_nothing, write=False)

    async def close(self) -> None:
        """Run what is queued, close the connection and stop the thread."""
        await self.flush()
        loop = asyncio.get_running_loop()
        conn, self._conn = self._conn, None
        if conn is not None:
            await loop.run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch = [
                    self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))
                ]
                try:
                    outcomes = await loop.run_in_executor(self._executor, self._execute, batch)
                except asyncio.CancelledError:
                    _fail(batch, StoreError("the store was shut down during a write"))
                    raise
                except (sqlite3.Error, OSError) as exc:
                    logger.error("SQLite transaction of %d operations failed: %s", len(batch), exc)
                    _fail(batch, StoreError(f"SQLite transaction failed: {exc}"))
                    continue
                self.batches += 1
                for job, (ok, value) in zip(batch, outcomes, strict=True):
                    if job.future is None:
                        if not ok:
                            logger.error("SQLite lazy write %s failed: %r", _name(job), value)
                    elif not job.future.done():
                        if ok:
                            job.future.set_result(value)
                        else:
                            job.future.set_exception(value)
        finally:
            self._drainer = None

    def _execute(self, batch: list[_Job]) -> list[_Outcome]:
        """One transaction for the whole batch (in the worker thread)."""
        conn = self._conn
        if conn is None:
            raise sqlite3.ProgrammingError("the store is closed")
        if not any(job.write for job in batch):
            return [_run(job, conn) for job in batch]
        # Fast path: no savepoints. If any operation fails, roll everything back and run the
        # batch again with one savepoint per write, so only the failing one is undone.
        outcomes = self._transaction(conn, batch, isolate=False)
        if all(ok for ok, _ in outcomes):
            return outcomes
        return self._transaction(conn, batch, isolate=True)

    @staticmethod
    def _transaction(
        conn: sqlite3.Connection, batch: list[_Job], *, isolate: bool
    ) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for job in batch:
                if not (isolate and job.write):
                    outcome = _run(job, conn)
                    outcomes.append(outcome)
                    if not outcome[0] and not isolate:
                        conn.execute("ROLLBACK")
                        return outcomes
                    continue
                conn.execute("SAVEPOINT op")
                outcome = _run(job, conn)
                if not outcome[0]:
                    conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
                outcomes.append(outcome)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return outcomes


def _run(job: _Job, conn: sqlite3.Connection) -> _Outcome:
    try:
        return True, job.op(conn)
    except sqlite3.Error as exc:
        return False, StoreError(f"{_name(job)} failed: {exc}")
    except Exception as exc:  # a bug in one operation goes to its caller, not the batch
        return False, exc


def _name(job: _Job) -> str:
    return job.name or getattr(job.op, "__name__", "operation")


def _nothing(conn: sqlite3.Connection) -> None:
    return None


def _fail(batch: list[_Job], exc: BaseException) -> None:
    for job in batch:
        if job.future is not None and not job.future.done():
            job.future.set_exception(exc)


__all__ = ["GroupCommitter", "Operation"]
