"""The last seen message id per channel, kept as store cursors, for backfill after downtime.

Cursor names, with ``prefix`` = ``discord:{connector name}:{bot user id}``:

- ``{prefix}:last:{channel_id}``: the newest message id seen in that channel;
- ``{prefix}:channels``: the known channels, ``channel_id:guild_id`` (guild empty for a
  DM), comma-separated, most recently active last, at most ``max_channels``.

A cursor only moves forward, and only past messages that were handed to the runner (or
deliberately skipped), so a cursor never skips a message; it may lag behind (written once
per batch), in which case the backfill reads a message again and the runner's journal
recognises it.
"""

from __future__ import annotations

import logging

from agent_runner.errors import LeaseLostError, StoreError
from agent_runner.store import Store

_log = logging.getLogger("connectors.discord")


class ChannelCursors:
    """In-memory cursors, loaded from and flushed to a store (or kept in memory only)."""

    def __init__(self, store: Store | None, prefix: str, *, max_channels: int = 500) -> None:
        self._store = store
        self._prefix = prefix
        self._max = max_channels
        self._last: dict[int, int] = {}
        self._guilds: dict[int, int | None] = {}
        self._dirty: set[int] = set()
        self._index_dirty = False

    @property
    def persistent(self) -> bool:
        return self._store is not None

    def _name(self, channel_id: int) -> str:
        return f"{self._prefix}:last:{channel_id}"

    async def load(self) -> None:
        """Read the known channels and their cursors."""
        if self._store is None:
            return
        index = await self._store.cursor_get(f"{self._prefix}:channels")
        for entry in (index or "").split(","):
            channel, _, guild = entry.partition(":")
            if not channel.isdigit():
                continue
            value = await self._store.cursor_get(self._name(int(channel)))
            if value is not None and value.isdigit():
                self._last[int(channel)] = int(value)
                self._guilds[int(channel)] = int(guild) if guild.isdigit() else None

    def get(self, channel_id: int) -> int | None:
        return self._last.get(channel_id)

    def channels(self) -> list[tuple[int, int | None]]:
        """Known channels with a cursor, as ``(channel_id, guild_id)``."""
        return [(c, self._guilds.get(c)) for c in self._last]

    def advance(self, channel_id: int, guild_id: int | None, message_id: int) -> None:
        """Move the channel's cursor to ``message_id`` if that is newer."""
        if message_id <= self._last.get(channel_id, 0):
            return
        if channel_id not in self._last:
            self._index_dirty = True
        self._last[channel_id] = message_id
        self._guilds[channel_id] = guild_id
        self._dirty.add(channel_id)

    async def flush(self) -> None:
        """Write the cursors that moved (and the channel index if it changed)."""
        if self._store is None:
            self._dirty.clear()
            return
        dirty, self._dirty = self._dirty, set()
        try:
            for channel_id in sorted(dirty):
                value = str(self._last[channel_id])
                await self._store.cursor_set(self._name(channel_id), value)
                dirty.discard(channel_id)
        finally:
            self._dirty |= dirty  # what was not written is written next time
        if self._index_dirty:
            self._index_dirty = False
            recent = sorted(self._last, key=self._last.__getitem__)[-self._max :]
            for channel_id in set(self._last) - set(recent):
                del self._last[channel_id]
                self._guilds.pop(channel_id, None)
            index = ",".join(f"{c}:{self._guilds.get(c) or ''}" for c in recent)
            await self._store.cursor_set(f"{self._prefix}:channels", index)

    async def flush_quietly(self) -> None:
        """:meth:`flush`, logging a store that failed or refused the write (a lost lease)."""
        try:
            await self.flush()
        except (StoreError, LeaseLostError) as exc:
            _log.warning("discord: could not save channel cursors: %r", exc)


__all__ = ["ChannelCursors"]
