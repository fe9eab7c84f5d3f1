"""Backpressure: a bound on the messages waiting in mailboxes.

With ``max_queued_messages`` set, a sender outside agent handlers waits for room instead of
growing memory. Handlers are never made to wait (an agent waiting on its own mailbox would
deadlock). Without the option a runtime has no Backpressure at all and counts nothing.
"""

from __future__ import annotations

import asyncio
from collections import deque

from agent_runner.core._mailbox import stopped_error


class Backpressure:
    """:meta private: Counts queued messages and makes outside senders wait above ``limit``.

    The mailroom adds to :attr:`queued` when it queues and calls :meth:`taken` when a turn
    takes a message out.
    """

    __slots__ = ("limit", "queued", "_waiters")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("max_queued_messages must be at least 1")
        self.limit = limit
        self.queued = 0
        """Messages waiting in mailboxes."""
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def wait_for_room(self) -> None:
        """Return once fewer than ``limit`` messages wait."""
        while self.queued >= self.limit:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def taken(self) -> None:
        """One queued message was taken out: let one waiting sender in if there is room."""
        self.queued -= 1
        waiters = self._waiters
        while waiters and self.queued < self.limit:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def dropped(self, count: int) -> None:
        """``count`` queued messages were dropped without a turn (failed activation)."""
        self.queued -= count

    def clear(self) -> None:
        """The runtime stopped: nothing is queued any more and every waiting sender fails."""
        self.queued = 0
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(stopped_error())


__all__ = ["Backpressure"]
