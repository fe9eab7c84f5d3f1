"""What the X connector keeps across restarts, in the runner's store (or in memory).

Keys, all scoped by the bot's account id where it matters:

- cursor ``x:{user_id}:mentions_since_id``: the newest mention handed to the runner;
- state ``x:{user_id}:posts:{YYYY-MM-DD}``: tweets posted that UTC day (daily cap);
- state ``x:thread:{hash}``: ids of the parts of a thread posted so far (resume on retry);
- state ``x:depth:{tweet_id}``: bot replies in the thread up to one of our tweets.
"""

from __future__ import annotations

import hashlib
import json

from agent_runner.store import Store


class XState:
    """The connector's persistent state; a plain dict until a store is bound."""

    def __init__(self) -> None:
        self.store: Store | None = None
        self._local: dict[str, str] = {}

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
    async def posts_on(self, user_id: str, day: str) -> int:
        return int(await self._get(f"x:{user_id}:posts:{day}") or 0)

    async def count_post(self, user_id: str, day: str) -> None:
        await self._set(f"x:{user_id}:posts:{day}", str(await self.posts_on(user_id, day) + 1))

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


__all__ = ["XState"]
