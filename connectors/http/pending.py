"""Requests waiting for their replies, and recent answers kept for idempotent retries.

An HTTP request that wants its reply in the response registers a :class:`Waiter` under the
message key before pushing the message; the connector's ``send``/``send_chunk``/``complete``
(called by the runner) feed the waiter's queue, and the handler reads it. Every reply is also
kept (a bounded LRU by message key), so a client retrying with the same ``id`` gets the same
answer instead of a second run.

The runner tells an output a message is fully answered by calling its ``complete(request)``
when it has one. Until a first ``complete`` is seen, a waiter returns at the first reply.

A waiter's reply timeout is a deadline on the waiter, not a timer: one sweep per
:class:`Pending`, every tick while requests wait (a twentieth of the timeout, 1 ms to 1 s,
:func:`~agent_runner.deadlines.tick_of`), wakes those whose deadline passed. A request
times out up to one tick late, never early.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict, deque
from typing import Literal

from agent_runner.deadlines import tick_of
from agent_runner.message import Reply

EventKind = Literal["chunk", "reply", "done", "timeout"]
Event = tuple[EventKind, "str | Reply | None"]


class Waiter:
    """One request's events, oldest first: text chunks, whole replies, then ``done`` (or
    ``timeout``, put by the sweep once ``deadline`` passed).

    A deque and one future per wait: cheaper than an ``asyncio.Queue`` on the hot path.
    """

    __slots__ = ("_events", "_wakeup", "deadline", "key", "stream")

    def __init__(self, key: str, *, stream: bool) -> None:
        self.key = key
        self.stream = stream
        self.deadline = math.inf
        """The loop time :meth:`Pending.collect` gives up at."""
        self._events: deque[Event] = deque()
        self._wakeup: asyncio.Future[None] | None = None

    def put(self, event: Event) -> None:
        self._events.append(event)
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    async def get(self) -> Event:
        """The next event, waiting for it if needed (cancel it to give up)."""
        while not self._events:
            self._wakeup = asyncio.get_running_loop().create_future()
            try:
                await self._wakeup
            finally:
                self._wakeup = None
        return self._events.popleft()

    def pending(self) -> list[Event]:
        """Take every event already there, without waiting."""
        events = list(self._events)
        self._events.clear()
        return events


class Pending:
    """The waiters of in-flight requests and the last ``cache_size`` answers."""

    def __init__(self, *, cache_size: int = 2048) -> None:
        self._waiters: dict[str, Waiter] = {}
        self._answers: OrderedDict[str, tuple[list[Reply], bool]] = OrderedDict()
        self._bodies: OrderedDict[str, str] = OrderedDict()
        self._cache_size = cache_size
        self.completes_seen = False
        """True once the runner called ``complete``: waiters then wait for ``done``."""
        self._sweep: asyncio.TimerHandle | None = None
        self._sweep_loop: asyncio.AbstractEventLoop | None = None
        self._tick = 1.0

    def __len__(self) -> int:
        return len(self._waiters)

    # -- requests --------------------------------------------------------------------
    def open(self, key: str, *, stream: bool = False) -> Waiter:
        if key in self._waiters:
            raise KeyError(key)
        waiter = self._waiters[key] = Waiter(key, stream=stream)
        return waiter

    def close(self, waiter: Waiter) -> None:
        if self._waiters.get(waiter.key) is waiter:
            del self._waiters[waiter.key]

    def get(self, key: str) -> Waiter | None:
        return self._waiters.get(key)

    def answer(self, key: str) -> list[Reply] | None:
        """The replies of a fully answered message, if still kept."""
        entry = self._answers.get(key)
        if entry is None or not (entry[1] or not self.completes_seen):
            return None
        return list(entry[0])

    def same_body(self, key: str, fingerprint: str) -> bool:
        """Remember the body a client id came with; False when the id came with another."""
        known = self._bodies.setdefault(key, fingerprint)
        self._bodies.move_to_end(key)
        while len(self._bodies) > self._cache_size:
            self._bodies.popitem(last=False)
        return known == fingerprint

    # -- from the runner -------------------------------------------------------------
    def chunk(self, key: str, text: str) -> None:
        waiter = self._waiters.get(key)
        if waiter is not None:
            waiter.put(("chunk", text))

    def reply(self, key: str, reply: Reply) -> bool:
        """Record a reply; True when a request was waiting for it."""
        replies, _ = self._answers.get(key, ([], False))
        replies.append(reply)
        self._remember(key, replies, done=False)
        waiter = self._waiters.get(key)
        if waiter is not None:
            waiter.put(("reply", reply))
        return waiter is not None

    def done(self, key: str) -> None:
        self.completes_seen = True
        replies, _ = self._answers.get(key, ([], False))
        self._remember(key, replies, done=True)
        waiter = self._waiters.get(key)
        if waiter is not None:
            waiter.put(("done", None))

    def _remember(self, key: str, replies: list[Reply], *, done: bool) -> None:
        self._answers[key] = (replies, done)
        self._answers.move_to_end(key)
        while len(self._answers) > self._cache_size:
            self._answers.popitem(last=False)

    # -- for handlers ----------------------------------------------------------------
    async def collect(self, waiter: Waiter, within: float) -> list[Reply] | None:
        """Wait for the replies of ``waiter``'s message; None when none came in time."""
        loop = asyncio.get_running_loop()
        waiter.deadline = loop.time() + within
        self._tick = tick_of(within)
        if self._sweep is None or self._sweep_loop is not loop:
            self._sweep_loop = loop
            self._sweep = loop.call_later(self._tick, self._expire, loop)
        replies: list[Reply] = []
        while True:
            kind, value = await waiter.get()
            if kind == "done":
                return replies
            if kind == "timeout":
                return replies or None
            if kind == "reply" and isinstance(value, Reply):
                replies.append(value)
                if not self.completes_seen:
                    extra = [v for k, v in waiter.pending() if k == "reply"]
                    return replies + [v for v in extra if isinstance(v, Reply)]

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        """The sweep: wake the waiters whose deadline passed; again in a tick while any wait."""
        if loop is not self._sweep_loop:
            return
        now = loop.time()
        for waiter in self._waiters.values():
            if waiter.deadline <= now:
                waiter.deadline = math.inf
                waiter.put(("timeout", None))
        self._sweep = None
        if self._waiters and not loop.is_closed():
            self._sweep = loop.call_later(self._tick, self._expire, loop)


__all__ = ["Event", "EventKind", "Pending", "Waiter"]
