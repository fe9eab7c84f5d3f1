"""Requests waiting for their replies, and recent answers kept for idempotent retries.

An HTTP request that wants its reply in the response registers a :class:`Waiter` under the
message key before pushing the message; the connector's ``send``/``send_chunk``/``complete``
(called by the runner) feed the waiter's queue, and the handler reads it. Every reply is also
kept (a bounded LRU by message key), so a client retrying with the same ``id`` gets the same
answer instead of a second run.

The runner tells an output a message is fully answered by calling its ``complete(request)``
when it has one. Until a first ``complete`` is seen, a waiter returns at the first reply.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Literal

from agent_runner.message import Reply

EventKind = Literal["chunk", "reply", "done"]
Event = tuple[EventKind, "str | Reply | None"]


class Waiter:
    """One request's queue of events: text chunks, whole replies, then ``done``."""

    __slots__ = ("key", "queue", "stream")

    def __init__(self, key: str, *, stream: bool) -> None:
        self.key = key
        self.stream = stream
        self.queue: asyncio.Queue[Event] = asyncio.Queue()


class Pending:
    """The waiters of in-flight requests and the last ``cache_size`` answers."""

    def __init__(self, *, cache_size: int = 2048) -> None:
        self._waiters: dict[str, Waiter] = {}
        self._answers: OrderedDict[str, tuple[list[Reply], bool]] = OrderedDict()
        self._cache_size = cache_size
        self.completes_seen = False
        """True once the runner called ``complete``: waiters then wait for ``done``."""

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

    # -- from the runner -------------------------------------------------------------
    def chunk(self, key: str, text: str) -> None:
        waiter = self._waiters.get(key)
        if waiter is not None:
            waiter.queue.put_nowait(("chunk", text))

    def reply(self, key: str, reply: Reply) -> bool:
        """Record a reply; True when a request was waiting for it."""
        replies, _ = self._answers.get(key, ([], False))
        replies.append(reply)
        self._remember(key, replies, done=False)
        waiter = self._waiters.get(key)
        if waiter is not None:
            waiter.queue.put_nowait(("reply", reply))
        return waiter is not None

    def done(self, key: str) -> None:
        self.completes_seen = True
        replies, _ = self._answers.get(key, ([], False))
        self._remember(key, replies, done=True)
        waiter = self._waiters.get(key)
        if waiter is not None:
            waiter.queue.put_nowait(("done", None))

    def _remember(self, key: str, replies: list[Reply], *, done: bool) -> None:
        self._answers[key] = (replies, done)
        self._answers.move_to_end(key)
        while len(self._answers) > self._cache_size:
            self._answers.popitem(last=False)

    # -- for handlers ----------------------------------------------------------------
    async def collect(self, waiter: Waiter, within: float) -> list[Reply] | None:
        """Wait for the replies of ``waiter``'s message; None when none came in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        replies: list[Reply] = []
        while True:
            remaining = deadline - loop.time()
            try:
                kind, value = await asyncio.wait_for(waiter.queue.get(), max(0.0, remaining))
            except TimeoutError:
                return replies or None
            if kind == "done":
                return replies
            if kind == "reply" and isinstance(value, Reply):
                replies.append(value)
                if not self.completes_seen:
                    return replies + self._drain_replies(waiter)

    @staticmethod
    def _drain_replies(waiter: Waiter) -> list[Reply]:
        extra: list[Reply] = []
        while not waiter.queue.empty():
            kind, value = waiter.queue.get_nowait()
            if kind == "reply" and isinstance(value, Reply):
                extra.append(value)
        return extra


__all__ = ["Event", "EventKind", "Pending", "Waiter"]
