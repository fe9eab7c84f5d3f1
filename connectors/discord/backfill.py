"""Backfill: what the channels got while the bot was away, read from their history.

On each new gateway session (not a resume) the connector reads, per known channel, the
messages after that channel's cursor (:mod:`connectors.discord.cursors`), oldest first, and
hands them to the runner like live ones. A channel whose history cannot be read is retried
later, with capped exponential backoff (:func:`agent_runner.backoff.backoff_delay`, from
``retry_base`` doubling up to :data:`BACKFILL_RETRY_MAX`); meanwhile its cursor stays put, so
nothing is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime

from agent_runner.backoff import backoff_delay
from connectors.discord.client import ConnectorClient
from connectors.discord.cursors import ChannelCursors
from connectors.discord.errors import REST_ERRORS
from connectors.discord.sdk import discord

_log = logging.getLogger("connectors.discord")

BACKFILL_RETRY_MAX = 300.0
"""Longest wait between retries of a failed backfill, in seconds."""


class Backfill:
    """Reads channel histories after downtime and retries the channels that failed.

    Args:
        limit: most messages read per channel per backfill.
        max_age: seconds; an older missed message is skipped, not answered.
        retry_base: seconds before the first retry of a failed channel (doubling).
        on_retry: called (on the event loop) when failed channels are due again.
    """

    def __init__(
        self, *, limit: int, max_age: float, retry_base: float, on_retry: Callable[[], None]
    ) -> None:
        self.limit = limit
        self.max_age = max_age
        self._retry_base = retry_base
        self._on_retry = on_retry
        self._failed: dict[int, int] = {}  # channel id -> failures in a row
        self._timer: asyncio.TimerHandle | None = None

    @property
    def failing(self) -> list[int]:
        """Channels whose last backfill failed (their cursors must not move on live messages)."""
        return list(self._failed)

    def is_failing(self, channel_id: int) -> bool:
        return channel_id in self._failed

    def too_old(self, message: discord.Message) -> bool:
        age = (datetime.now(UTC) - message.created_at).total_seconds()
        return age > self.max_age

    async def read(
        self,
        client: ConnectorClient,
        cursors: ChannelCursors,
        channel_ids: Collection[int],
        handle: Callable[[discord.Message], Awaitable[None]],
    ) -> None:
        """Hand ``handle`` what each channel got after its cursor; a failure is retried later."""
        guilds = dict(cursors.channels())
        for channel_id in channel_ids:
            after = cursors.get(channel_id)
            if after is None:
                continue
            channel = client.get_partial_messageable(channel_id, guild_id=guilds.get(channel_id))
            count = 0
            try:
                history = channel.history(
                    after=discord.Object(id=after), limit=self.limit, oldest_first=True
                )
                async for message in history:
                    await handle(message)
                    count += 1
            except REST_ERRORS as exc:
                failures = self._failed.get(channel_id, 0) + 1
                self._failed[channel_id] = failures
                _log.warning(
                    "discord: backfill of channel %s failed (%d in a row), retrying: %r",
                    channel_id,
                    failures,
                    exc,
                )
                self._schedule_retry()
            else:
                self._failed.pop(channel_id, None)
            if count:
                _log.info("discord: backfill read %d messages in channel %s", count, channel_id)
            if count >= self.limit:
                _log.warning(
                    "discord: backfill of channel %s stopped at %d messages (backfill_limit)",
                    channel_id,
                    count,
                )

    def cancel(self) -> None:
        """Drop a pending retry (the input stopped; the next session backfills anyway)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule_retry(self) -> None:
        if self._timer is not None:
            return
        failures = max(self._failed.values(), default=1)
        delay = backoff_delay(failures, base=self._retry_base, cap=BACKFILL_RETRY_MAX)

        def retry() -> None:
            self._timer = None
            self._on_retry()

        self._timer = asyncio.get_running_loop().call_later(delay, retry)


def start_cursors(
    client: ConnectorClient, cursors: ChannelCursors, channel_ids: Collection[int]
) -> None:
    """Start the cursors of listed channels at their newest message, so later backfills
    cover them even if the bot has not seen a message there yet."""
    for channel_id in channel_ids:
        channel = client.get_channel(channel_id)
        last_id = getattr(channel, "last_message_id", None)
        if cursors.get(channel_id) is None and isinstance(last_id, int):
            guild = getattr(channel, "guild", None)
            cursors.advance(channel_id, guild.id if guild else None, last_id)


__all__ = ["BACKFILL_RETRY_MAX", "Backfill", "start_cursors"]
