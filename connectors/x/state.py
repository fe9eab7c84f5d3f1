"""What the X connector keeps across restarts, in the runner's store (or in memory).

Keys, all scoped by the bot's account id where it matters:

- cursor ``x:{user_id}:mentions_since_id``: the newest mention handed to the runner;
- shared counter ``x:{user_id}:posts:{YYYY-MM-DD}``: tweets posted (or being posted) that
  UTC day, for the daily cap; taken atomically in the store, so replicas sharing it never
  post more than the cap between them (:class:`~agent_runner.store.SharedCounters`);
- state ``x:thread:{hash}``: ids of the parts of a thread posted so far (resume on retry);
- state ``x:depth:{tweet_id}``: bot replies in the thread up to one of our tweets.
"""

from __future__ import annotations

import hashlib
import json

from agent_runner.store import InMemoryCounters, Refusal, SharedCounters, Store, counters_for

UNCAPPED = 1e18
"""The limit of the daily post counter when there is no cap (posts are still counted)."""


class XState:
    """The connector's persistent state; a plain dict until a store is bound."""

    def __init__(self) -> None:
        self.store: Store | None = None
        self._local: dict[str, str] = {}
        self._counters: tuple[Store | None, SharedCounters] = (None, InMemoryCounters())

    async def _get(self, key: str) -> str | None:
        if self.store is None:
            return self._local.get(key)
        return await self.store.state_get(key)

    async def _set(self, key: str, value: str) -> None:
        if self.store is None:
            self._local[key] = value
        else:
            await self.store.state_set(key, value)

    async def _delete(self, key: str) -> None:
        if self.store is None:
            self._local.pop(key, None)
        else:
            await self.store.state_delete(key)

    # -- mentions cursor -----------------------------------------------------------------
    async def since_id(self, user_id: str) -> str | None:
        """The stored cursor: None before the first poll, ``"0"`` for "from the start"."""
        key = f"x:{user_id}:mentions_since_id"
        if self.store is None:
            return self._local.get(key)
        return await self.store.cursor_get(key)

    async def set_since_id(self, user_id: str, value: str) -> None:
        key = f"x:{user_id}:mentions_since_id"
        if self.store is None:
            self._local[key] = value
        else:
            await self.store.cursor_set(key, value)

    # -- daily post count ------------------------------------------------------------------
    def counters(self) -> SharedCounters:
        """The bound store's shared counters (process-local ones until a store is bound)."""
        if self._counters[0] is not self.store and self.store is not None:
            self._counters = (self.store, counters_for(self.store))
        return self._counters[1]

    @staticmethod
    def posts_counter(user_id: str, day: str) -> str:
        return f"x:{user_id}:posts:{day}"

    async def posts_on(self, user_id: str, day: str) -> int:
        return round(await self.counters().value(self.posts_counter(user_id, day)) or 0)

    async def take_posts(
        self, counter: str, n: int, *, cap: int | None, lifetime: float
    ) -> Refusal | None:
        """Count ``n`` posts on ``counter`` unless that goes over ``cap`` (atomically)."""
        limit = UNCAPPED if cap is None else cap
        return await self.counters().take({counter: limit}, n, expires_in=lifetime)

    async def give_back_posts(self, counter: str, n: int) -> None:
        """Uncount ``n`` posts taken but never attempted."""
        await self.counters().settle(None, [counter], -n)

    # -- thread progress -------------------------------------------------------------------
    @staticmethod
    def thread_key(key: str) -> str:
        return "x:thread:" + hashlib.sha256(key.encode()).hexdigest()[:32]

    async def thread_progress(self, key: str) -> list[str]:
        saved = await self._get(self.thread_key(key))
        return [str(i) for i in json.loads(saved)] if saved else []

    async def save_thread_progress(self, key: str, ids: list[str]) -> None:
        await self._set(self.thread_key(key), json.dumps(ids))

    async def forget_thread(self, key: str) -> None:
        await self._delete(self.thread_key(key))

    # -- reply depth -----------------------------------------------------------------------
    async def depth_of(self, tweet_id: str | None) -> int:
        """Bot replies in the thread up to ``tweet_id`` (0 for tweets that are not ours)."""
        if tweet_id is None:
            return 0
        return int(await self._get(f"x:depth:{tweet_id}") or 0)

    async def set_depth(self, tweet_id: str, depth: int) -> None:
        await self._set(f"x:depth:{tweet_id}", str(depth))


__all__ = ["UNCAPPED", "XState"]
