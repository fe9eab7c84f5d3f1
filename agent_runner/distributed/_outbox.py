"""Group-commit writer: every Redis write of a process goes through one pipeline at a time.

Commands queued while a pipeline is in flight go together in the next one, so 2,000
concurrent RPCs cost a handful of round trips, not 2,000. A batch that fails with a
connection error is retried with capped backoff (Redis restarting) for up to
``retry_for`` seconds; after that its waiters get the error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

import redis.asyncio as redis
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agent_runner.backoff import backoff_delay
from agent_runner.distributed._link import Link
from agent_runner.distributed._wire import GROUP

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
    ConnectionError,
    TimeoutError,
)
"""Errors after which a Redis call is retried (the server restarting or unreachable)."""


class WriteWaiter(Protocol):
    """Told when its queued command failed (success is silent): cheaper than a future, whose
    result would take a loop pass per command to reach a done callback."""

    def write_failed(self, error: BaseException) -> None: ...


_Waiter = asyncio.Future[Any] | WriteWaiter | None
"""Who learns a queued command's outcome: a future (its result or error), a write waiter
(its error only) or nobody (errors are logged)."""

_Op = tuple[tuple[Any, ...], _Waiter]


def _settle(waiter: _Waiter, result: Any, command: Any) -> None:
    """Hand a command's result (or the exception that is its result) to its waiter."""
    if waiter is None:
        if isinstance(result, Exception):
            logger.warning("outbox: %s failed: %s", command, result)
    elif isinstance(waiter, asyncio.Future):
        if waiter.done():
            return
        if isinstance(result, BaseException):
            waiter.set_exception(result)
        else:
            waiter.set_result(result)
    elif isinstance(result, BaseException):
        waiter.write_failed(result)


class Outbox:
    """Batches commands into pipelines; one pipeline in flight at a time."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        max_batch: int = 2000,
        retry_for: float = 30.0,
        backoff_base: float = 0.05,
        backoff_cap: float = 2.0,
    ) -> None:
        self._link = Link(client)
        self._max_batch = max_batch
        self._retry_for = retry_for
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._ops: list[_Op] = []
        self._acks: dict[str, list[Any]] = {}
        self._marks: dict[str, dict[str, str]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._busy = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="agent-runner-outbox")

    @property
    def depth(self) -> int:
        """Commands and acks queued, not yet sent (read by the operator endpoint)."""
        return len(self._ops) + sum(map(len, self._acks.values())) + len(self._marks)

    def push(self, *args: Any) -> None:
        """Queue a command whose result nobody waits for (errors are logged)."""
        self._ops.append((args, None))
        self._wake.set()

    def ack(self, stream: str, entry_id: Any) -> None:
        """Queue an ``XACK``; the acks of one batch go last, after the replies and states."""
        ids = self._acks.get(stream)
        if ids is None:
            self._acks[stream] = [entry_id]
        else:
            ids.append(entry_id)
        self._wake.set()

    def mark(self, key: str, field: str, value: str) -> None:
        """Queue ``HSET key field value``; a batch sends one HSET per key (last value wins),
        after its other commands and before its acks."""
        fields = self._marks.get(key)
        if fields is None:
            self._marks[key] = {field: value}
        else:
            fields[field] = value
        self._wake.set()

    def write(self, waiter: WriteWaiter, *args: Any) -> None:
        """Queue a command; ``waiter.write_failed(error)`` is called if it fails."""
        self._ops.append((args, waiter))
        self._wake.set()

    def call(self, *args: Any) -> asyncio.Future[Any]:
        """Queue a command; the future gets its result or error."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._ops.append((args, future))
        self._wake.set()
        return future

    async def flush(self) -> None:
        """Wait until every command queued so far has been sent (or failed)."""
        if self._task is None or self._task.done():
            return
        await asyncio.shield(self.call())

    async def close(self) -> None:
        """Send what is queued, then stop."""
        if self._task is None:
            return
        try:
            async with asyncio.timeout(self._retry_for + 5):
                await self.flush()
        except TRANSIENT_ERRORS:  # Redis unreachable past retry_for (logged): close anyway
            logger.warning("outbox: %d commands not sent at close", len(self._ops))
        self._closing = True
        self._wake.set()
        done, _ = await asyncio.wait({self._task}, timeout=self._retry_for + 5)
        if not done:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=2.0)
        self._task = None
        self._closing = False
        await self._link.close()
        for args, waiter in self._ops:
            if waiter is not None:
                _settle(waiter, ConnectionError("the runtime is closed"), args[0] if args else "")
        self._ops.clear()

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            while (self._ops or self._acks or self._marks) and not self._busy:
                self._busy = True
                try:
                    batch = self._ops[: self._max_batch]
                    del self._ops[: self._max_batch]
                    if self._marks:
                        marks, self._marks = self._marks, {}
                        for key, values in marks.items():
                            flat = [x for pair in values.items() for x in pair]
                            batch.append((("HSET", key, *flat), None))
                    if self._acks:
                        acks, self._acks = self._acks, {}
                        batch += [(("XACK", s, GROUP, *ids), None) for s, ids in acks.items()]
                    await self._send(batch)
                finally:
                    self._busy = False

    async def send_now(self, *commands: tuple[Any, ...]) -> list[Any] | None:
        """Send ``commands`` from the calling task when nothing else is queued or in flight.

        Saves the hop through the writer task on an idle connection (a sequential caller).
        Returns the results (errors as exception objects), or None when the outbox is busy:
        then the caller queues the commands instead. Order with queued commands is kept.
        """
        if self._busy or self._ops or self._acks or self._marks or not self._task:
            return None
        if self._closing:
            return None
        self._busy = True
        try:
            return await self._execute(list(commands))
        finally:
            self._busy = False
            if self._ops or self._acks or self._marks:
                self._wake.set()

    async def _execute(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Run commands in one round trip, retrying connection errors for ``retry_for``."""
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                return await self._link.execute(commands)
            except TRANSIENT_ERRORS as exc:
                if time.monotonic() - started > self._retry_for:
                    logger.error("outbox: giving up on %d commands: %r", len(commands), exc)
                    raise
                attempt += 1
                delay = backoff_delay(
                    attempt, base=self._backoff_base, cap=self._backoff_cap, jitter="equal"
                )
                logger.warning("outbox: redis unavailable (%r), retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)

    async def _send(self, batch: list[_Op]) -> None:
        merged = merge_xadds(batch)
        commands = [args for args, _ in merged if args]
        results: list[Any] = []
        if commands:
            try:
                results = await self._execute(commands)
            except TRANSIENT_ERRORS as exc:
                for args, waiter in batch:
                    if waiter is not None:  # the giving up was logged once
                        _settle(waiter, exc, args[0] if args else "")
                return
        it = iter(results)
        for args, waiters in merged:
            result = next(it) if args else None
            for waiter in waiters:
                _settle(waiter, result, args[0] if args else "")


MAX_MESSAGES_PER_ENTRY = 128
MAX_BYTES_PER_ENTRY = 512 * 1024


def merge_xadds(batch: list[_Op]) -> list[tuple[tuple[Any, ...], list[_Waiter]]]:
    """Merge the plain ``XADD stream * h H d D`` of a batch that go to one stream into one
    entry ``h, d, h1, d1, h2, d2, ...`` (docs/concepts/distributed.md), placed where the first
    was.

    Entries of one stream keep their order; everything else keeps its place.
    """
    out: list[tuple[tuple[Any, ...], list[_Waiter]]] = []
    open_entry: dict[Any, tuple[int, list[Any], int, int]] = {}
    entries: list[tuple[int, list[Any]]] = []
    for args, future in batch:
        if len(args) == 7 and args[0] == "XADD" and args[2] == "*" and args[3] == "h":
            stream = args[1]
            found = open_entry.get(stream)
            size = len(args[6])
            if found is not None:
                index, fields, count, total = found
                if count < MAX_MESSAGES_PER_ENTRY and total + size <= MAX_BYTES_PER_ENTRY:
                    fields += [f"h{count}", args[4], f"d{count}", args[6]]
                    out[index][1].append(future)
                    open_entry[stream] = (index, fields, count + 1, total + size)
                    continue
            fields = ["h", args[4], "d", args[6]]
            open_entry[stream] = (len(out), fields, 1, size)
            entries.append((len(out), fields))
            out.append((("XADD", stream, "*"), [future]))
            continue
        out.append((args, [future]))
    for index, fields in entries:
        args, futures = out[index]
        out[index] = ((*args, *fields), futures)
    return out
