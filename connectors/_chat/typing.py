"""A chat's "typing…" indicator while the agent works: one background task per chat.

The platform call (``send``) is repeated every ``refresh`` seconds, after an initial
``delay`` (a quick reply needs no indicator), as long as a message of that chat waits for
its reply (:meth:`TypingIndicators.stop` when it went out) and at most ``timeout`` seconds
(an agent may answer nothing). A failing call only ends the indicator.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

_log = logging.getLogger("connectors")


class TypingIndicators:
    """The typing indicators of one connector: one per chat, while any message waits there.

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
        self._waiting: dict[str, set[str]] = {}  # chat -> messages waiting for a reply
        self._chat_of: dict[str, str] = {}

    def __len__(self) -> int:
        """How many chats typing is shown in."""
        return len(self._tasks)

    def start(
        self, message_id: str, send: Callable[[], Awaitable[object]], *, chat: str | None = None
    ) -> None:
        """Show typing in ``chat`` by calling ``send()`` until ``message_id`` is stopped
        (and as long as another message of that chat waits); no chat: one per message."""
        chat = message_id if chat is None else chat
        self._chat_of[message_id] = chat
        self._waiting.setdefault(chat, set()).add(message_id)
        if chat in self._tasks:
            return
        task = asyncio.ensure_future(self._run(chat, send))
        self._tasks[chat] = task
        task.add_done_callback(lambda _: self._ended(chat, task))

    def _ended(self, chat: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(chat) is task:
            del self._tasks[chat]
            for message_id in self._waiting.pop(chat, set()):
                self._chat_of.pop(message_id, None)

    async def _run(self, chat: str, send: Callable[[], Awaitable[object]]) -> None:
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
            _log.debug("typing in %s stopped: %r", chat, exc)

    def stop(self, message_id: str) -> None:
        """``message_id`` was answered; its chat's typing ends when no other message waits."""
        chat = self._chat_of.pop(message_id, None)
        if chat is None:
            return
        waiting = self._waiting.get(chat, set())
        waiting.discard(message_id)
        task = self._tasks.get(chat)
        if not waiting and task is not None:
            task.cancel()

    def close(self) -> None:
        """Stop every indicator."""
        for task in list(self._tasks.values()):
            task.cancel()
        self._tasks.clear()
        self._waiting.clear()
        self._chat_of.clear()


__all__ = ["TypingIndicators"]
