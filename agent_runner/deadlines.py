"""Coarse timeouts for the per-message path: ``asyncio.timeout`` without a timer per use.

``asyncio.timeout(delay)`` puts a ``TimerHandle`` on the loop's heap and cancels it again on
the way out, about 6 µs a use on this project's machine; a message meets one per agent turn
and an HTTP request one more while it waits for its replies. :class:`Deadlines` rounds each
deadline up to a tick (a twentieth of the delay, from 1 ms to 1 s) and lets every deadline of
the same tick share one timer, so entering and leaving a block is a set operation.

A deadline fires up to one tick late, never early; otherwise a block behaves as under
``asyncio.timeout``: when the deadline passes, the task is cancelled and the block raises
``TimeoutError``; :meth:`CoarseTimeout.expired` tells that apart from a ``TimeoutError``
raised inside the block.

Example:
    >>> deadlines = Deadlines()
    >>> async def handle() -> None:
    ...     async with deadlines.timeout(120.0):
    ...         await asyncio.sleep(0)
    >>> asyncio.run(handle())
"""

from __future__ import annotations

import asyncio
import math
from types import TracebackType

MIN_TICK = 0.001
MAX_TICK = 1.0


def tick_of(delay: float) -> float:
    """The rounding step of a deadline ``delay`` seconds away (its largest lateness).

    >>> tick_of(120.0), tick_of(1.0), tick_of(0.001)
    (1.0, 0.05, 0.001)
    """
    return min(MAX_TICK, max(MIN_TICK, delay / 20))


def due_of(now: float, delay: float) -> float:
    """When a deadline ``delay`` seconds after ``now`` fires: rounded up to its tick, so
    deadlines of one tick share a timer.

    >>> due_of(1000.2, 120.0)
    1121.0
    >>> due_of(5.0, 1.0)
    6.0
    """
    tick = tick_of(delay)
    return math.ceil((now + delay) / tick) * tick


class Deadlines:
    """The shared timers of one owner's coarse timeouts (one per loop tick in use)."""

    __slots__ = ("_buckets", "_loop")

    def __init__(self) -> None:
        self._buckets: dict[float, set[CoarseTimeout]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def timeout(self, delay: float | None) -> CoarseTimeout:
        """An async context manager like ``asyncio.timeout(delay)`` (None: no limit)."""
        return CoarseTimeout(self, delay)

    def _add(self, entry: CoarseTimeout, delay: float) -> set[CoarseTimeout]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # timers of another (closed) loop never fire here
            self._loop, self._buckets = loop, {}
        due = due_of(loop.time(), delay)
        bucket = self._buckets.get(due)
        if bucket is None:
            bucket = self._buckets[due] = set()
            loop.call_at(due, self._fire, due)
        bucket.add(entry)
        return bucket

    def _fire(self, due: float) -> None:
        for entry in self._buckets.pop(due, ()):
            entry._expire()


class CoarseTimeout:
    """One block under a coarse deadline (see the module doc); made by :meth:`Deadlines.timeout`."""

    __slots__ = ("_bucket", "_cancelling", "_deadlines", "_delay", "_state", "_task")

    def __init__(self, deadlines: Deadlines, delay: float | None) -> None:
        self._deadlines = deadlines
        self._delay = delay
        self._task: asyncio.Task[object] | None = None
        self._bucket: set[CoarseTimeout] | None = None
        self._cancelling = 0
        self._state = "created"

    def expired(self) -> bool:
        """True when the deadline passed and cancelled the block."""
        return self._state in ("expiring", "expired")

    async def __aenter__(self) -> CoarseTimeout:
        if self._state != "created":
            raise RuntimeError("a CoarseTimeout is entered once")
        self._state = "active"
        if self._delay is not None and self._delay < math.inf:
            task = asyncio.current_task()
            if task is None:
                raise RuntimeError("a timeout is used inside a task")
            self._task, self._cancelling = task, task.cancelling()
            if self._delay <= 0:
                self._expire()
            else:
                self._bucket = self._deadlines._add(self, self._delay)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bucket is not None:
            self._bucket.discard(self)
            self._bucket = None
        if self._state == "expiring":
            self._state = "expired"
            assert self._task is not None
            if self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
                raise TimeoutError from exc
        elif self._state == "active":
            self._state = "exited"

    def _expire(self) -> None:
        if self._state == "active" and self._task is not None:
            self._state = "expiring"
            self._task.cancel()


__all__ = ["CoarseTimeout", "Deadlines", "due_of", "tick_of"]
