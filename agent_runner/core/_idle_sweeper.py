"""IdleSweeper: the timer that deactivates agents idle longer than ``idle_timeout``.

``max_active_agents`` needs no timer: it is enforced when agents are created or become idle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class IdleSweeper:
    """:meta private: Calls ``sweep`` every half ``idle_timeout`` while started."""

    __slots__ = ("_period", "_sweep", "_task")

    def __init__(self, idle_timeout: float, sweep: Callable[[], None]) -> None:
        self._period = max(idle_timeout / 2, 0.005)
        self._sweep = sweep
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> list[asyncio.Task[None]]:
        """Cancel the timer; return its task to be awaited (none when not started)."""
        task, self._task = self._task, None
        if task is None:
            return []
        task.cancel()
        return [task]

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._period)
            self._sweep()


__all__ = ["IdleSweeper"]
