"""Tweets and threads posted for one account: resumed on retry, within a daily cap, or dry.

A thread is posted part by part, each part replying to the previous one. With a ``key``, the
ids posted so far are kept in the store (:mod:`connectors.x.state`), so a retried thread
resumes where it stopped instead of posting its first parts again. The daily post cap (for
limited API tiers) counts tweets per UTC day in the store and refuses a whole thread that
does not fit, with :class:`~connectors.x.errors.DailyPostCapError`. In a dry run nothing is
posted: each tweet is logged and gets a ``dry-run-<n>`` id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from agent_runner.errors import DeliveryError
from connectors.x.api import XApi
from connectors.x.errors import DailyPostCapError
from connectors.x.ratelimit import utc_day
from connectors.x.state import XState
from connectors.x.text import split_thread

log = logging.getLogger("connectors.x")


class TweetPoster:
    """Posts for the account ``account()`` names (known once the connector is open).

    Args:
        api: the account's API client.
        state: where thread progress, reply depths and the daily count are kept.
        account: the account's user id.
        clock: Unix time, for the UTC day of the daily cap.
        dry_run: log tweets instead of posting them.
        daily_post_cap: most tweets per UTC day; None: no cap.
        numbered: end the parts of a multi-tweet thread with `` i/n``.
    """

    def __init__(
        self,
        *,
        api: XApi,
        state: XState,
        account: Callable[[], str],
        clock: Callable[[], float],
        dry_run: bool,
        daily_post_cap: int | None,
        numbered: bool,
    ) -> None:
        self._api = api
        self._state = state
        self._account = account
        self._clock = clock
        self.dry_run = dry_run
        self.daily_post_cap = daily_post_cap
        self.numbered = numbered
        self._lock = asyncio.Lock()
        self._dry_run_ids = 0

    async def post(
        self,
        parts: list[str] | str,
        *,
        in_reply_to: str | None = None,
        key: str | None = None,
        label: str = "tweet",
        depth: int | None = None,
    ) -> list[str]:
        """Post a tweet or a thread; see :meth:`connectors.x.XConnector.post`."""
        if isinstance(parts, str):
            parts = split_thread(parts, numbered=self.numbered)
        async with self._lock:
            done = await self._state.thread_progress(key) if key else []
            todo = parts[len(done) :]
            if not self.dry_run:
                await self._check_cap(len(todo), what=label)
            previous = done[-1] if done else in_reply_to
            for part in todo:
                tweet_id = await self.post_one(part, previous)
                if depth is not None and not self.dry_run:
                    await self._state.set_depth(tweet_id, depth)
                done.append(tweet_id)
                if key and len(done) < len(parts):
                    await self._state.save_thread_progress(key, done)
                previous = tweet_id
            if key and len(parts) > 1:
                await self._state.forget_thread(key)
        return done

    async def post_one(self, text: str, in_reply_to: str | None) -> str:
        """Post one tweet (counted for the daily cap); its id."""
        if self.dry_run:
            self._dry_run_ids += 1
            log.info(
                "x: dry run, not posting%s: %s",
                f" (reply to {in_reply_to})" if in_reply_to else "",
                text,
            )
            return f"dry-run-{self._dry_run_ids}"
        self._api.require_open()
        if not self._api.has_user_auth:
            raise DeliveryError("posting to X needs OAuth 1.0a user credentials")
        body = await self._api.create_tweet(text, in_reply_to)
        await self._state.count_post(self._account(), utc_day(self._clock()))
        return str(body["data"]["id"])

    async def posts_today(self) -> int:
        """Tweets posted today (UTC) by the account, as counted for the daily cap."""
        return await self._state.posts_on(self._account(), utc_day(self._clock()))

    async def _check_cap(self, needed: int, *, what: str) -> None:
        if self.daily_post_cap is None:
            return
        used = await self.posts_today()
        if used + needed > self.daily_post_cap:
            day = utc_day(self._clock())
            log.warning(
                "x: daily post cap reached: %d of %d tweets used on %s (UTC), %d more needed; "
                "not posting %s",
                used,
                self.daily_post_cap,
                day,
                needed,
                what,
            )
            raise DailyPostCapError(
                f"X daily post cap of {self.daily_post_cap} reached ({used} used on {day} UTC)"
            )


__all__ = ["TweetPoster"]
