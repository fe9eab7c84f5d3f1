"""Streamed replies shown as one platform message, edited as the agent writes.

The first chunk posts a message; later chunks edit it, at most once per ``interval`` on
the injected clock (:class:`~connectors._chat.throttle.EditThrottle`). A 429 doubles the
interval and postpones the next edit; any other failure only skips that edit: the text is
kept, and the final ``send`` of the whole reply replaces the message (the platform's
output does that, with its capped 429 waits). The streamed message's id is kept in the
store under ``{prefix}:live:{request key}`` until the reply is final, so a restart
mid-stream edits the same message instead of posting a second one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from agent_runner.store import Store
from connectors._chat.throttle import EditThrottle, LiveReply

_log = logging.getLogger("connectors")


class LiveReplies:
    """The streamed replies of one output, by request key.

    Args:
        prefix: the store key prefix (platform and connector name).
        interval: the least seconds between two edits of one message.
        clock: the time source (injected in tests).
        timeout: seconds per platform call.
        rate_limited: the seconds a 429 asks to wait, for an exception that is a 429, else
            None.
        errors: the exceptions that skip an edit (logged at DEBUG).
    """

    def __init__(
        self,
        *,
        prefix: str,
        interval: float,
        clock: Callable[[], float],
        timeout: float,
        rate_limited: Callable[[BaseException], float | None],
        errors: tuple[type[BaseException], ...],
    ) -> None:
        self._prefix = prefix
        self._interval = interval
        self._clock = clock
        self._timeout = timeout
        self._rate_limited = rate_limited
        self._errors = errors
        self._live: dict[str, LiveReply] = {}
        self.store: Store | None = None

    def _key(self, key: str) -> str:
        return f"{self._prefix}:live:{key}"

    def message_id(self, key: str) -> str | None:
        """The message a streamed reply is shown in, if it was posted."""
        live = self._live.get(key)
        return live.message_id if live is not None else None

    async def chunk(
        self,
        key: str,
        chunk: str,
        *,
        render: Callable[[str], str],
        post: Callable[[str], Awaitable[str]],
        edit: Callable[[str, str], Awaitable[object]],
    ) -> None:
        """Add ``chunk`` to reply ``key`` and show it if an edit is due.

        ``render`` turns the text so far into one message; ``post(text)`` posts it (its
        id); ``edit(id, text)`` edits it.
        """
        live = self._live.get(key)
        if live is None:
            live = LiveReply(EditThrottle(self._interval, max_interval=max(30.0, self._interval)))
            self._live[key] = live
            if self.store is not None:
                live.message_id = await self.store.state_get(self._key(key))
        live.text += chunk
        now = self._clock()
        if not live.throttle.ready(now):
            return
        text = render(live.text)
        if not text or text == live.shown:
            return
        try:
            async with asyncio.timeout(self._timeout):
                if live.message_id is None:
                    live.message_id = await post(text)
                    if self.store is not None:
                        await self.store.state_set(self._key(key), live.message_id)
                else:
                    await edit(live.message_id, text)
                    live.edits += 1
        except self._errors as exc:
            wait = self._rate_limited(exc)
            if wait is not None:
                live.throttle.rate_limited(now, retry_after=wait)
                _log.info("streaming %s slowed down by a 429 (%.1fs)", key, wait)
                return
            _log.debug("a streamed edit of %s failed: %r", key, exc)
        else:
            live.shown = text
        live.throttle.sent(now)

    async def finish(self, key: str) -> None:
        """The whole reply went out: forget the live message."""
        if self._live.pop(key, None) is not None and self.store is not None:
            await self.store.state_delete(self._key(key))


__all__ = ["LiveReplies"]
