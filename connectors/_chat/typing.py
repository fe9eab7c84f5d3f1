"""A chat's "typing…" indicator while the agent works, one background task per message.

The platform call (``send``) is repeated every ``refresh`` seconds, after an initial
``delay`` (a quick reply needs no indicator), until the reply goes out (:meth:`stop`) or
``timeout`` passes (an agent may answer nothing). A failing call only ends the indicator.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

_log = logging.getLogger("connectors")


class TypingIndicators:
    """The typing indicators of one connector, by message id.

    Args:
        refresh: seconds between two calls (the platform shows one for a few seconds).
        delay: seconds before the first call.
        timeout: seconds after which an indicator stops by itself.
        request_timeout: seconds per call.
        errors: the exceptions that end an indicator quietly (logged at DEBUG).
    """

    def __init__(
        self,
        *,
        refresh: float,
        delay: float,
        timeout: float,
        request_timeout: float,
        errors: tuple[type[BaseException], ...],
    ) -> None:
        self._refresh = refresh
        self._delay = delay
        self._timeout = timeout
        self._request_timeout = request_timeout
        self._errors = errors
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def __len__(self) -> int:
        """How many messages typing is shown for."""
        return len(self._tasks)

    def start(self, message_id: str, send: Callable[[], Awaitable[object]]) -> None:
        """Show typing for ``message_id`` by calling ``send()`` until stopped."""
        if message_id in self._tasks:
            return
        task = asyncio.ensure_future(self._run(message_id, send))
        self._tasks[message_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(message_id, None))

    async def _run(self, message_id: str, send: Callable[[], Awaitable[object]]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        try:
            if self._delay > 0:
                await asyncio.sleep(self._delay)
            while loop.time() < deadline:
                async with asyncio.timeout(self._request_timeout):
                    await send()
                await asyncio.sleep(self._refresh)
        except self._errors as exc:
            _log.debug("typing for %s stopped: %r", message_id, exc)

    def stop(self, message_id: str) -> None:
        task = self._tasks.pop(message_id, None)
        if task is not None:
            task.cancel()

    def close(self) -> None:
        """Stop every indicator."""
        for task in list(self._tasks.values()):
            task.cancel()
        self._tasks.clear()


__all__ = ["TypingIndicators"]
