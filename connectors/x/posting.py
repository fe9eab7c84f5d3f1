"""Tweets and threads posted for one account: resumed on retry, within a daily cap, or dry.

A thread is posted part by part, each part replying to the previous one. Under the runner,
each part posted is recorded in its reply ledger, and after a crash the account's latest
tweets are looked up for the parts the ledger missed (X has no idempotency key: the output
is ``reconciled``). Outside it, with a ``key``, the ids posted so far are kept in the store
(:mod:`connectors.x.state`), so a retried thread resumes instead of posting its first parts
again. The daily post cap (for
limited API tiers) counts tweets per UTC day in a shared counter of the store, taken for the
whole thread before its first part is posted (check-and-increment, atomic across replicas
sharing the store), and refuses a thread that does not fit with
:class:`~connectors.x.errors.DailyPostCapError`. Parts never attempted (a part failed) are
given back; a part that failed stays counted, since X may have posted it. In a dry run nothing is
posted: each tweet is logged and gets a ``dry-run-<n>`` id.

A reply's files ride on its thread (:mod:`connectors.x.media`): each post uploads its own
files right before it is posted (:mod:`connectors.x.upload`), so a post retried after a crash
uploads them again instead of reusing a media id that may have expired; a post found on X by
reconciliation (its text, the number of its media, the tweet it replies to) is not posted
again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from agent_runner.connector import DeliveryKey
from agent_runner.errors import DeliveryError
from agent_runner.message import File, Message, Reply
from connectors.x.api import XApi
from connectors.x.errors import DailyPostCapError
from connectors.x.media import (
    Post,
    check_files,
    media_count,
    media_groups,
)
from connectors.x.media import with_media as posts_of
from connectors.x.mentions import written_text
from connectors.x.ratelimit import utc_day
from connectors.x.state import XState
from connectors.x.text import MAX_TWEET_WEIGHT, split_thread
from connectors.x.upload import MediaUploader

log = logging.getLogger("connectors.x")


class TweetPoster:
    """Posts for the account ``account()`` names (known once the connector is open).

    Args:
        api: the account's API client.
        sleep: waits (while X processes an upload).
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
        sleep: Callable[[float], Awaitable[None]],
        state: XState,
        account: Callable[[], str],
        clock: Callable[[], float],
        dry_run: bool,
        daily_post_cap: int | None,
        numbered: bool,
    ) -> None:
        self._api = api
        self._uploader = MediaUploader(api, sleep=sleep)
        self._state = state
        self._account = account
        self._clock = clock
        self.dry_run = dry_run
        self.daily_post_cap = daily_post_cap
        self.numbered = numbered
        self._lock = asyncio.Lock()
        self._dry_run_ids = 0

    async def reply(
        self,
        request: Message,
        response: Reply,
        *,
        source: str,
        cap: int | None,
        ledger: DeliveryKey | None,
    ) -> None:
        """Post ``response`` to ``request``; see :meth:`connectors.x.XConnector.send`."""
        parts, media, reply_to, label = plan_thread(
            request, response, source=source, numbered=self.numbered, cap=cap
        )
        if not parts and not media:
            return
        await self.post(
            parts,
            in_reply_to=reply_to,
            key=None if ledger is not None else f"{request.key}\n{response.text}",
            label=label,
            depth=request.depth + 1 if reply_to else 1,
            ledger=ledger,
            media=media,
        )

    async def reconcile_reply(
        self,
        request: Message,
        response: Reply,
        *,
        source: str,
        cap: int | None,
        ledger: DeliveryKey,
    ) -> bool:
        """Whether ``response`` is all on X; see :meth:`connectors.x.XConnector.reconcile`."""
        parts, media, reply_to, _ = plan_thread(
            request, response, source=source, numbered=self.numbered, cap=cap
        )
        return await self.reconcile(parts, in_reply_to=reply_to, ledger=ledger, media=media)

    async def post(
        self,
        parts: list[str] | str,
        *,
        in_reply_to: str | None = None,
        key: str | None = None,
        label: str = "tweet",
        depth: int | None = None,
        ledger: DeliveryKey | None = None,
        media: Sequence[Sequence[File]] = (),
    ) -> list[str]:
        """Post a tweet or a thread; see :meth:`connectors.x.XConnector.post`.

        ``media`` are the files of each post (checked with
        :func:`~connectors.x.media.check_files`), group ``i`` on part ``i``, more groups
        than parts as posts of media only. With the runner's ``ledger`` key, the parts it
        recorded are skipped and each part posted is recorded there (instead of the thread
        progress ``key`` keeps)."""
        if isinstance(parts, str):
            parts = split_thread(parts, numbered=self.numbered)
        posts = posts_of(parts, media)
        async with self._lock:
            if ledger is not None:
                done = _recorded(ledger)
            else:
                done = await self._state.thread_progress(key) if key else []
            todo = posts[len(done) :]
            counter = None if self.dry_run or not todo else await self._take(len(todo), label)
            previous = done[-1] if done else in_reply_to
            attempted = 0
            try:
                for post in todo:
                    attempted += 1
                    tweet_id = await self.post_one(post.text, previous, post.files)
                    if depth is not None and not self.dry_run:
                        await self._state.set_depth(tweet_id, depth)
                    done.append(tweet_id)
                    if ledger is not None:
                        await ledger.part_delivered(len(done) - 1, tweet_id)
                    elif key and len(done) < len(posts):
                        await self._state.save_thread_progress(key, done)
                    previous = tweet_id
            finally:
                if counter is not None and attempted < len(todo):
                    await self._state.give_back_posts(counter, len(todo) - attempted)
            if key and len(posts) > 1:
                await self._state.forget_thread(key)
        return done

    async def reconcile(
        self,
        parts: list[str],
        *,
        in_reply_to: str | None,
        ledger: DeliveryKey,
        media: Sequence[Sequence[File]] = (),
    ) -> bool:
        """Find the posts not recorded in ``ledger`` among the account's latest tweets, in
        order, each replying to the post before (the first to ``in_reply_to``), with its
        text and as many media as it has files; record the ones found; True when every post
        is there."""
        posts = posts_of(parts, media)
        done = _recorded(ledger)
        if len(done) >= len(posts) or self.dry_run:
            return len(done) >= len(posts)
        tweets = await self._api.own_tweets(self._account())
        previous = done[-1] if done else in_reply_to
        for index in range(len(done), len(posts)):
            found = next(
                (t for t in tweets if _is_post(t, posts[index]) and _replied_to(t) == previous),
                None,
            )
            if found is None:
                return False
            previous = str(found["id"])
            await ledger.part_delivered(index, previous)
        return True

    async def post_one(self, text: str, in_reply_to: str | None, files: Sequence[File] = ()) -> str:
        """Upload ``files`` and post one tweet with them; its id. The daily cap is the
        caller's (:meth:`post` counts)."""
        if self.dry_run:
            self._dry_run_ids += 1
            log.info(
                "x: dry run, not posting%s%s: %s",
                f" (reply to {in_reply_to})" if in_reply_to else "",
                f" with {', '.join(f.name for f in files)}" if files else "",
                text,
            )
            return f"dry-run-{self._dry_run_ids}"
        self._api.require_open()
        if not self._api.has_user_auth:
            raise DeliveryError("posting to X needs OAuth 1.0a user credentials")
        media_ids = []
        for file, kind in zip(files, check_files(files), strict=True):
            media_ids.append(await self._uploader.upload(file, kind))
        body = await self._api.create_tweet(text, in_reply_to, media_ids)
        return str(body["data"]["id"])

    async def posts_today(self) -> int:
        """Tweets posted today (UTC) by the account, as counted for the daily cap."""
        return await self._state.posts_on(self._account(), utc_day(self._clock()))

    async def _take(self, needed: int, what: str) -> str:
        """Count ``needed`` posts today, or raise DailyPostCapError; the counter's name."""
        now = self._clock()
        day = utc_day(now)
        counter = self._state.posts_counter(self._account(), day)
        lifetime = 2 * 86_400 - now % 86_400  # the rest of the day, then one more
        refused = await self._state.take_posts(
            counter, needed, cap=self.daily_post_cap, lifetime=lifetime
        )
        if refused is None:
            return counter
        used = round(refused.value)
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


def plan_thread(
    request: Message, response: Reply, *, source: str, numbered: bool, cap: int | None
) -> tuple[list[str], list[list[File]], str | None, str]:
    """The tweets ``response`` is posted as (at most ``cap``), the files of each post (X's
    limits checked: UploadRefusedError before anything is sent), the tweet it answers (when
    ``request`` came from the X connector named ``source``), and a label for logs."""
    groups = media_groups(response.files, check_files(response.files))
    text = response.text
    if response.attachments:
        text = "\n".join([text, *(a.url for a in response.attachments)]).strip()
    parts = split_thread(text, limit=MAX_TWEET_WEIGHT, numbered=numbered)
    if cap is not None and len(parts) > cap:
        log.warning(
            "x: reply to %s needs %d tweets; posting the first %d (max_thread_parts)",
            request.key,
            len(parts),
            cap,
        )
        parts = split_thread(text, numbered=numbered, max_parts=cap)
    if not text:
        parts = []  # files only: posts of media alone
    reply_to = request.id if request.source == source else None
    label = f"reply to {request.key}" if reply_to else f"tweet for {request.key}"
    return parts, groups, reply_to, label


def _recorded(ledger: DeliveryKey) -> list[str]:
    """The ids of the parts the ledger recorded, from the first on, as long as unbroken."""
    done: list[str] = []
    while len(done) in ledger.parts:
        done.append(ledger.parts[len(done)])
    return done


def _is_post(tweet: dict[str, object], post: Post) -> bool:
    """Whether ``tweet`` (as X shows it) is ``post``: its text as written (links expanded, no
    media link), and as many media as the post has files."""
    return written_text(tweet) == post.text and media_count(tweet) == len(post.files)


def _replied_to(tweet: dict[str, object]) -> str | None:
    for ref in tweet.get("referenced_tweets") or ():  # type: ignore[attr-defined]
        if isinstance(ref, dict) and ref.get("type") == "replied_to":
            return str(ref.get("id"))
    return None


__all__ = ["TweetPoster", "plan_thread"]
