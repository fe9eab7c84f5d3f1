"""Long polling: ``getUpdates`` with a stored offset, failures backed off and capped.

The offset (the next update id) is kept as a store cursor and moves only after every
update of a batch was handed to the runner and journaled (``durable``: the updates are
handed over without waiting for a commit each, then the batch is waited for once), so a
restart neither loses an update nor answers one twice (a redelivered update is the same
runner message, which the journal knows). A 429 waits what Telegram asked; a conflict
(another poller, a webhook) or a network failure is retried with :data:`POLL_RETRY`, and
when those retries are spent the input fails and the runner restarts it with its own backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from agent_runner.backoff import RetryPolicy
from agent_runner.connector import ConnectorState
from agent_runner.errors import ConnectorError
from agent_runner.store import Store
from connectors.telegram.calls import TRANSIENT_ERRORS, mapped, rate_limited
from connectors.telegram.sdk import telegram

_log = logging.getLogger("connectors.telegram")
ALLOWED_UPDATES = ("message", "callback_query")
POLL_RETRY = RetryPolicy(retries=8, base=0.5, cap=30.0)
"""Backoff of failed long polls; after the last the input fails and the runner restarts it."""
_RETRIED: tuple[type[BaseException], ...] = (telegram.error.Conflict, *TRANSIENT_ERRORS)


class Poller:
    """Reads updates until ``stopping`` is set, handing each to ``take`` in order.

    Args:
        bot: the open bot.
        store: where the offset is kept (None: in memory only).
        cursor: the offset's cursor name.
        poll_timeout: seconds each long poll waits.
        request_timeout: seconds on top of that before a poll counts as failed.
        take: hands one update to the runner (raises if the runner cannot take it).
        durable: waits until every update taken so far is journaled (raises if not).
        stopping: set when the input stops.
        report: told ``"up"`` when a ``getUpdates`` round is finished (its updates
            journaled), ``"rate_limited"`` on a 429, ``"reconnecting"`` on a failed poll.
    """

    def __init__(
        self,
        *,
        bot: telegram.Bot,
        store: Store | None,
        cursor: str,
        poll_timeout: int,
        request_timeout: float,
        take: Callable[[telegram.Update], Awaitable[None]],
        durable: Callable[[], Awaitable[None]],
        stopping: asyncio.Event,
        report: Callable[[ConnectorState], None],
    ) -> None:
        self._bot, self._store, self._cursor = bot, store, cursor
        self._poll_timeout, self._request_timeout = poll_timeout, request_timeout
        self._take, self._durable, self._stopping = take, durable, stopping
        self._report = report

    async def run(self) -> None:
        stored = await self._store.cursor_get(self._cursor) if self._store else None
        offset = int(stored) if stored else None
        failures = 0
        while not self._stopping.is_set():
            try:
                async with asyncio.timeout(self._poll_timeout + self._request_timeout):
                    updates = await self._bot.get_updates(
                        offset=offset,
                        timeout=self._poll_timeout,
                        allowed_updates=list(ALLOWED_UPDATES),
                    )
            except telegram.error.RetryAfter as exc:
                self._report("rate_limited")
                wait = POLL_RETRY.wait(1, retry_after=rate_limited(exc))
                await self._pause(wait if wait is not None else POLL_RETRY.cap)
                continue
            except telegram.error.InvalidToken as exc:
                raise mapped(exc, "getUpdates") from exc
            except _RETRIED as exc:
                self._report("reconnecting")
                failures += 1
                wait = POLL_RETRY.wait(failures)
                if wait is None:
                    raise ConnectorError(f"Telegram getUpdates keeps failing: {exc!r}") from exc
                _log.warning("telegram: getUpdates failed (%r); retrying in %.1fs", exc, wait)
                await self._pause(wait)
                continue
            failures = 0
            for update in updates:
                await self._take(update)
            await self._durable()
            if updates:
                offset = updates[-1].update_id + 1
                if self._store is not None:
                    await self._store.cursor_set(self._cursor, str(offset))
            self._report("up")  # a round finished: /readyz watches for the next

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)


__all__ = ["ALLOWED_UPDATES", "POLL_RETRY", "Poller"]
