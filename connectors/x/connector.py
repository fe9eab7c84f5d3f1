"""X (Twitter) connector: answers mentions, posts replies in thread and standalone tweets.

Input: polls the bot's mentions timeline (API v2) with ``since_id`` every ``poll_interval``
seconds, pages through everything new, pushes mentions oldest first (photos and videos'
stills as attachments) and skips the bot's own tweets. The ``since_id`` cursor lives in the
runner's store and moves only after the runner accepted the messages, so a restart neither
misses mentions nor answers old ones again.

Output: a reply to a tweet is posted in its thread (``in_reply_to_tweet_id``), anything else
(a cron job routed to X, say) as a standalone tweet, with its files uploaded and attached.
Long text becomes a numbered thread split by X's weighted length (280; URLs 23; emoji and CJK
2). Rate limits are read from ``x-rate-limit-*`` headers and waited out within a cap; 429 and
5xx are retried a bounded number of times; a daily post cap (for limited API tiers) and a
dry-run mode are built in.

Auth: OAuth 1.0a user context (``X_API_KEY``, ``X_API_SECRET``, ``X_ACCESS_TOKEN``,
``X_ACCESS_TOKEN_SECRET``) for posting and the mentions timeline; an app-only bearer token
(``X_BEARER_TOKEN``, with ``X_USER_ID``) suffices for a read-only input.

Example::

    from agent_runner import AgentRuntime
    from connectors.x import XConnector

    x = XConnector.from_env(poll_interval=60, daily_post_cap=50)
    runtime = AgentRuntime(inputs=[x], outputs=[x], agent=my_agent)
    await runtime.run()

Offline, point it at :class:`agent_runner.testing.x.FakeX` with ``X_API_BASE`` (or
``XConnector.from_env(fake.env())``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Literal

from agent_runner.backoff import RetryPolicy
from agent_runner.connector import BaseConnector, DeliveryContract, DeliveryKey, Sink
from agent_runner.errors import (
    ConfigurationError,
    ConnectorError,
    DeliveryError,
    InvalidMessageError,
    RateLimitedError,
)
from agent_runner.message import Message, Reply
from agent_runner.store import Store
from connectors.x.api import XApi
from connectors.x.mentions import replied_to, tweet_message
from connectors.x.posting import TweetPoster
from connectors.x.ratelimit import DEFAULT_RETRY, pace
from connectors.x.settings import XSettings, read_settings
from connectors.x.state import XState

log = logging.getLogger("connectors.x")


class XConnector(BaseConnector):
    """X mentions in, replies and tweets out (tweepy ``AsyncClient``, API v2).

    Args:
        api_key, api_secret, access_token, access_token_secret: OAuth 1.0a user context
            (posting, ``users/me``, the mentions timeline).
        bearer_token: app-only token; used for the mentions timeline when there is no user
            context, or when ``mentions_auth="app"``.
        user_id: the bot's id; looked up with ``GET /2/users/me`` when omitted.
        api_base: API root replacing ``https://api.twitter.com`` (proxy, fake); None: real X.
        poll_interval: seconds between mention polls.
        daily_post_cap: most tweets posted per UTC day (counted in the store); None: no cap.
        dry_run: log what would be tweeted instead of posting.
        mentions_auth: ``"user"`` or ``"app"``; default: user context when configured.
        first_run: with no cursor yet, ``"latest"`` answers only mentions that arrive after
            the first poll; ``"all"`` answers what the timeline still returns.
        numbered: end the parts of a multi-tweet thread with `` i/n``.
        max_thread_parts: longest thread one reply may become; longer text is cut there
            (the last part ends with "…") and a warning is logged. None: no limit.
        max_pages: most pages (of ``page_size``) read per poll.
        page_size: mentions per page (5-100).
        bot_accounts: ids or usernames of accounts known to be bots (``author.is_bot``).
        retry: waits and retries on 429, 5xx and network errors (default
            ``connectors.x.ratelimit.DEFAULT_RETRY``).
        request_timeout: seconds per HTTP request.
        clock, sleep: time source and sleep (injected in tests).
        name: the connector's name (default ``"x"``).

    Example:
        >>> x = XConnector(api_key="k", api_secret="s", access_token="t",
        ...                access_token_secret="ts", dry_run=True)
        >>> x.name
        'x'
    """

    name = "x"
    single_consumer = True  # one poller of the mentions timeline per account (lease_account)
    delivery: DeliveryContract = "reconciled"  # the account's tweets are looked up

    def __init__(
        self,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        access_token: str | None = None,
        access_token_secret: str | None = None,
        bearer_token: str | None = None,
        user_id: str | None = None,
        api_base: str | None = None,
        poll_interval: float = 60.0,
        daily_post_cap: int | None = None,
        dry_run: bool = False,
        mentions_auth: Literal["user", "app"] | None = None,
        first_run: Literal["latest", "all"] = "latest",
        numbered: bool = True,
        max_thread_parts: int | None = 25,
        max_pages: int = 10,
        page_size: int = 100,
        bot_accounts: Collection[str] = (),
        retry: RetryPolicy | None = None,
        request_timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self._api = XApi(
            oauth=(api_key, api_secret, access_token, access_token_secret),
            bearer_token=bearer_token,
            api_base=api_base,
            retry=retry or DEFAULT_RETRY,
            request_timeout=request_timeout,
            clock=clock,
            sleep=sleep,
        )
        self._bearer = bearer_token
        if mentions_auth is None:
            mentions_auth = "user" if self._api.has_user_auth else "app"
        self.mentions_auth = mentions_auth
        self.user_id = user_id
        self.username: str | None = None
        self.poll_interval = self.progress_interval = poll_interval  # /readyz watches it
        self.first_run = first_run
        self.max_thread_parts = max_thread_parts
        self.max_pages = max_pages
        self.page_size = max(5, min(100, page_size))
        self.bot_accounts = frozenset(b.lower().lstrip("@") for b in bot_accounts)
        self._clock = clock
        self._state = XState()
        self._poster = TweetPoster(
            api=self._api,
            sleep=sleep,
            state=self._state,
            account=lambda: self.user_id or "",
            clock=clock,
            dry_run=dry_run,
            daily_post_cap=daily_post_cap,
            numbered=numbered,
        )

    @property
    def dry_run(self) -> bool:
        """True when tweets are logged instead of posted."""
        return self._poster.dry_run

    @property
    def daily_post_cap(self) -> int | None:
        """Most tweets posted per UTC day (None: no cap)."""
        return self._poster.daily_post_cap

    @property
    def numbered(self) -> bool:
        """Whether the parts of a multi-tweet thread end with `` i/n``."""
        return self._poster.numbered

    @property
    def api_base(self) -> str | None:
        """The API root in use instead of ``https://api.twitter.com`` (None: real X)."""
        return self._api.api_base

    @property
    def retry(self) -> RetryPolicy:
        """How API calls wait and retry."""
        return self._api.retry

    @property
    def request_timeout(self) -> float:
        """Seconds per HTTP request."""
        return self._api.request_timeout

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_settings(cls, settings: XSettings | None = None, **overrides: Any) -> XConnector:
        """Build from :class:`XSettings` (the environment when omitted); kwargs override."""
        s = settings if settings is not None else read_settings()
        kwargs = s.connector_options()
        kwargs.update(overrides)
        return cls(**kwargs)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> XConnector:
        """Build from ``X_*`` variables: the process environment, plus ``env`` on top.

        Example:
            >>> XConnector.from_env({"X_DRY_RUN": "1"}).dry_run
            True
        """
        values: dict[str, Any] = {
            key[2:].lower(): value for key, value in (env or {}).items() if key.startswith("X_")
        }
        return cls.from_settings(read_settings(**values), **overrides)

    def bind_store(self, store: Store) -> None:
        """Keep the ``since_id`` cursor, the daily post count and thread progress in ``store``."""
        self._state.store = store

    # -- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        """Create the HTTP session and client; look up the bot's account when needed."""
        if self._api.is_open:
            return
        if not self._api.has_user_auth and not self._bearer and not self.dry_run:
            raise ConfigurationError(
                "X needs X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET "
                "(or X_BEARER_TOKEN with X_USER_ID for a read-only input)"
            )
        if self.mentions_auth == "app" and not self._bearer and not self.dry_run:
            raise ConfigurationError('mentions_auth="app" needs X_BEARER_TOKEN')
        await self._api.open()
        if self._api.has_user_auth and self.user_id is None:
            try:
                me = await self._api.me()
            except BaseException:
                await self.close()
                raise
            self.user_id = str(me["data"]["id"])
            self.username = str(me["data"]["username"])
            log.info("x: signed in as @%s (%s)", self.username, self.user_id)
        elif self.user_id is not None and self.username is None and self._bearer:
            user_id = self.user_id  # an app-auth read: who is this account?
            try:
                found = await self._api.user(user_id)
            except BaseException:
                await self.close()
                raise
            if "data" not in found:
                await self.close()
                raise ConfigurationError(f"X_USER_ID {user_id} is not an X account")
            self.username = str(found["data"]["username"])
            log.info("x: reading mentions of @%s (%s), app-only", self.username, user_id)
        self.lease_account = self.user_id

    async def __aenter__(self) -> XConnector:
        await self.open()
        return self

    async def close(self) -> None:
        """Close the HTTP session. Safe to call twice."""
        await self._api.close()

    # -- input -------------------------------------------------------------------------------
    async def run(self, sink: Sink) -> None:
        """Poll mentions every ``poll_interval`` until stopped.

        When the rate-limit window runs low, polls are spread out so the remaining calls last
        until its reset; a rate limit or a failure that outlasted the retries only delays the
        next poll. A refused request (401, 403) ends the input (the runner restarts it).
        """
        if self.user_id is None:
            raise ConfigurationError("X input needs X_USER_ID or OAuth 1.0a user credentials")
        while not self.stopping:
            try:
                await self.poll(sink)
                delay = pace(self._api.window("mentions"), self._clock(), self.poll_interval)
                self.report("up" if delay <= self.poll_interval else "rate_limited")
            except RateLimitedError as exc:
                delay = max(self.poll_interval, exc.retry_after or 0.0)
                self.report("rate_limited")
                log.warning("x: mentions rate limited; next poll in %.0fs", delay)
            except DeliveryError:
                raise  # refused (401, 403, 400): the runner logs it and restarts with backoff
            except ConnectorError as exc:
                delay = self.poll_interval
                self.report("reconnecting")
                log.warning("x: polling mentions failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def poll(self, sink: Sink) -> int:
        """Read new mentions once and push them oldest first; the number pushed.

        The cursor advances past every mention the sink accepted (or refused as invalid),
        and past the bot's own tweets; never past one that was not handed over.
        """
        self._api.require_open()
        user_id = self.user_id or ""
        cursor = await self._state.since_id(user_id)
        if cursor is None and self.first_run == "latest":
            body = await self._api.mentions(
                user_id, since_id=None, token=None, size=5, user_auth=self.mentions_auth == "user"
            )
            newest = body.get("meta", {}).get("newest_id")
            await self._state.set_since_id(user_id, str(newest or 0))
            log.info("x: first run; answering mentions newer than %s", newest or "now")
            return 0
        since = int(cursor) if cursor and cursor != "0" else None
        tweets, users, media = await self._api.new_mentions(
            user_id,
            since_id=since,
            page_size=self.page_size,
            max_pages=self.max_pages,
            user_auth=self.mentions_auth == "user",
        )
        pushed, last = 0, since
        try:
            for tweet in sorted(tweets, key=lambda t: int(t["id"])):
                tweet_id = int(tweet["id"])
                if since is not None and tweet_id <= since:
                    continue
                if str(tweet.get("author_id")) != self.user_id:
                    pushed += await self._push(sink, tweet, users, media)
                last = tweet_id
        finally:
            if last is not None and last != since:
                await self._state.set_since_id(user_id, str(last))
        return pushed

    async def _push(
        self,
        sink: Sink,
        tweet: Mapping[str, Any],
        users: Mapping[str, Mapping[str, Any]],
        media: Mapping[str, Mapping[str, Any]],
    ) -> int:
        try:
            message = tweet_message(
                tweet,
                source=self.name,
                username=self.username or "",
                users=users,
                bot_accounts=self.bot_accounts,
                depth=await self._state.depth_of(replied_to(tweet)),
                media=media,
            )
            accepted = await sink(message)
        except InvalidMessageError as exc:
            log.warning("x: skipped tweet %s: %s", tweet.get("id"), exc.reason)
            return 0
        return 0 if accepted.duplicate else 1

    # -- output ------------------------------------------------------------------------------
    async def send(
        self, request: Message, response: Reply, *, key: DeliveryKey | None = None
    ) -> None:
        """Post ``response``: in ``request``'s thread when it is a tweet, else standalone;
        its files attached (UploadRefusedError, before anything is sent, for one X does not
        take). With the runner's ``key`` each posted part is recorded in its reply ledger,
        and a send a crash interrupted goes on after the parts recorded or found
        (:meth:`reconcile`), uploading their files anew."""
        await self._poster.reply(
            request, response, source=self.name, cap=self.max_thread_parts, ledger=key
        )

    async def reconcile(self, request: Message, response: Reply, key: DeliveryKey) -> bool:
        """Find the parts of ``response`` not in ``key.parts`` among the account's latest
        tweets (each replying to the part before, with its text and number of media);
        record them; True when all are there."""
        return await self._poster.reconcile_reply(
            request, response, source=self.name, cap=self.max_thread_parts, ledger=key
        )

    async def post(
        self,
        parts: list[str] | str,
        *,
        in_reply_to: str | None = None,
        key: str | None = None,
        label: str = "tweet",
        depth: int | None = None,
    ) -> list[str]:
        """Post a tweet or a thread (each part replying to the previous); the tweet ids.

        ``key`` makes a retried thread resume where it stopped instead of posting its first
        parts again (progress is kept in the store). Raises DailyPostCapError when the whole
        thread does not fit in today's cap; ``label`` names the post in that log line.
        ``depth`` (bot replies in the thread, counting this one) is remembered per tweet, so
        a reply to it arrives with ``Message.depth`` set and the runner can stop bot loops.
        """
        return await self._poster.post(
            parts, in_reply_to=in_reply_to, key=key, label=label, depth=depth
        )

    async def posts_today(self) -> int:
        """Tweets posted today (UTC) by this account, as counted for the daily cap."""
        return await self._poster.posts_today()


__all__ = ["XConnector"]
