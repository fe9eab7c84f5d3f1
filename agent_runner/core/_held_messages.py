"""HeldMessages: what a single-threaded runtime accepts before it is started.

Sends and publishes made before ``start()`` are held in arrival order; ``start()`` hands them
all to the mailboxes, and ``process_next()`` (for a runtime that is never started) hands them
over one at a time, waiting for the next one when none is held.
"""

from __future__ import annotations

import asyncio
from collections import deque

from agent_runner.core._agent_id import AgentId
from agent_runner.core._mailbox import Envelope

Held = tuple[AgentId | None, Envelope]
"""A held message: its recipient (None for a publish) and its envelope."""


class HeldMessages:
    """:meta private: Messages waiting for the runtime to start, first in first out."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Held] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def add(self, recipient: AgentId | None, env: Envelope) -> None:
        self._items.append((recipient, env))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take_all(self) -> list[Held]:
        """Every held message, in arrival order (none is held afterwards)."""
        items = list(self._items)
        self._items.clear()
        return items

    async def take_next(self) -> Held:
        """The oldest held message, once there is one."""
        while not self._items:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        return self._items.popleft()


__all__ = ["HeldMessages"]
