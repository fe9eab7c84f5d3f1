"""FakeX: the server, the world it holds (users, tweets) and the test hooks that publish
tweets, read what the bot posted and inject failures."""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from agent_runner.testing.x.auth import Credentials
from agent_runner.testing.x.desk import Handle, MediaDesk, MediaInput, read_body, without_segments
from agent_runner.testing.x.endpoints import (
    Answer,
    handled,
    mentions_answer,
    new_tweet,
    refusal,
    user_answer,
    user_by_id_answer,
)
from agent_runner.testing.x.limits import DEFAULT_LIMITS, RateLimits
from agent_runner.testing.x.media import FakeMedia, FakeUpload
from agent_runner.testing.x.timeline import (
    FakeTweet,
    FakeUser,
    Pager,
    find_mentions,
    shortened,
)

_FIRST_ID = 1_860_000_000_000_000_000
_MAX_BODY = 8 * 1024 * 1024  # an append segment (5 MiB at most) and its multipart framing


@dataclass(frozen=True, slots=True)
class FakeRequest:
    """A request the fake answered: what, how it was authenticated, and the status."""

    method: str
    path: str
    endpoint: str
    auth: str | None
    """``"oauth1"``, ``"bearer"`` or None (missing or rejected)."""
    status: int
    query: Mapping[str, str]
    body: Any = None


class FakeX:
    """A fake X API v2 server. Start with ``async with FakeX() as fake`` or :meth:`start`.

    Args:
        consumer_key, consumer_secret, access_token, access_token_secret: the OAuth 1.0a
            credentials it accepts (any other signature is refused with 401).
        bearer_token: the app-only token it accepts on app-auth reads.
        username, name: the authenticated account (``GET /2/users/me``).
        limits: calls per 15-minute window per endpoint (``users_me``, ``users_id``,
            ``mentions``, ``create_tweet``); default :data:`DEFAULT_LIMITS` (generous),
            :data:`X_LIMITS` for X's real numbers.
        clock: Unix time source for rate-limit windows, ``created_at`` and media expiry
            (OAuth timestamps are checked against the real time, as the client stamps them
            with it).
        processing_checks: STATUS calls before an uploaded video or GIF is processed.
        check_after_secs: the ``processing_info.check_after_secs`` the fake answers.
    """

    def __init__(
        self,
        *,
        consumer_key: str = "fake-consumer-key",
        consumer_secret: str = "fake-consumer-secret",
        access_token: str = "1000-fake-access-token",
        access_token_secret: str = "fake-access-token-secret",
        bearer_token: str = "fake-bearer-token",
        username: str = "agent_bot",
        name: str = "Agent Bot",
        limits: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.time,
        processing_checks: int = 1,
        check_after_secs: int = 1,
    ) -> None:
        self._credentials = Credentials(
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=access_token_secret,
            bearer_token=bearer_token,
        )
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.access_token, self.access_token_secret = access_token, access_token_secret
        self.bearer_token = bearer_token
        self._clock = clock
        self._ids = itertools.count(_FIRST_ID, 1_000)
        self._user_ids = itertools.count(1000)
        self._users: dict[str, FakeUser] = {}
        self.me = self.user(username, name=name)
        self.tweets: dict[str, FakeTweet] = {}
        self.posted: list[FakeTweet] = []
        """Tweets created through ``POST /2/tweets``, in order."""
        self.requests: list[FakeRequest] = []
        """Every request answered, in order."""
        self.desk = MediaDesk(
            new_id=lambda: str(next(self._ids)),
            clock=clock,
            processing_checks=processing_checks,
            check_after_secs=check_after_secs,
        )
        self.media: dict[str, FakeMedia] = self.desk.media
        """Every picture, GIF and video on the fake, by ``media_key``."""
        self.uploads: list[FakeUpload] = self.desk.uploads
        """The bot's upload sessions, in order (finalized or not)."""
        self.downloads: list[str] = self.desk.downloads
        """Paths of the media files served (``/pbs/...``), in order."""
        self._limits = RateLimits({**DEFAULT_LIMITS, **(limits or {})}, clock=clock)
        self._pager = Pager()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""
        """``http://127.0.0.1:PORT`` once started."""

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1; :attr:`url` tells where."""
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_get("/2/users/me", self._users_me)
        app.router.add_get("/2/users/{id}/mentions", self._mentions)
        app.router.add_get("/2/users/{id}/tweets", self._user_tweets)
        app.router.add_get("/2/users/{id}", self._user_by_id)
        app.router.add_post("/2/tweets", self._create_tweet)
        for method, path, endpoint, handle in self.desk.endpoints(lambda: self.me.id):
            app.router.add_route(method, path, functools.partial(self._media, endpoint, handle))
        app.router.add_get("/pbs/{path:.+}", self._serve_media)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def close(self) -> None:
        """Stop listening. Safe to call twice."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeX:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def env(self) -> dict[str, str]:
        """The ``X_*`` environment variables that point a connector at this fake."""
        return {
            "X_API_BASE": self.url,
            "X_API_KEY": self.consumer_key,
            "X_API_SECRET": self.consumer_secret,
            "X_ACCESS_TOKEN": self.access_token,
            "X_ACCESS_TOKEN_SECRET": self.access_token_secret,
            "X_BEARER_TOKEN": self.bearer_token,
        }

    # -- test API --------------------------------------------------------------------------
    def user(self, username: str, *, name: str | None = None) -> FakeUser:
        """The account ``username``, created on first use."""
        key = username.lower()
        if key not in self._users:
            self._users[key] = FakeUser(
                id=str(next(self._user_ids)),
                username=username,
                name=name or username.title(),
                created_at=datetime.fromtimestamp(self._clock(), UTC),
            )
        return self._users[key]

    def add_tweet(
        self,
        text: str,
        *,
        author: str,
        in_reply_to: FakeTweet | str | None = None,
        media: Sequence[MediaInput] = (),
    ) -> FakeTweet:
        """Publish a tweet by ``author`` (a username), optionally in reply to another, with
        ``media`` (served under :attr:`url` ``/pbs/``)."""
        parent = self._parent(in_reply_to)
        user = self.user(author)
        keys = tuple(self.desk.add(user.id, *item).media_key for item in media)
        return self._publish(text, user, parent, keys)

    def add_mention(
        self,
        text: str,
        *,
        author: str = "alice",
        in_reply_to: FakeTweet | str | None = None,
        media: Sequence[MediaInput] = (),
    ) -> FakeTweet:
        """Publish a tweet by ``author`` mentioning the bot (``@bot`` is prefixed if absent),
        with ``media``: ``[("photo.png", png_bytes)]``."""
        handle = f"@{self.me.username}"
        if handle.lower() not in text.lower():
            text = f"{handle} {text}".rstrip()
        return self.add_tweet(text, author=author, in_reply_to=in_reply_to, media=media)

    def media_of(self, tweet: FakeTweet) -> list[FakeMedia]:
        """The media on ``tweet``, in order."""
        return [self.media[key] for key in tweet.media_keys]

    def rate_limit_next(
        self, n: int = 1, *, reset_in: float = 60.0, endpoint: str | None = None
    ) -> None:
        """Answer the next ``n`` requests (to ``endpoint`` if given) with 429.

        ``endpoint`` is ``"users_me"``, ``"users_id"``, ``"mentions"`` or ``"create_tweet"``;
        the 429 carries ``x-rate-limit-remaining: 0`` and ``x-rate-limit-reset`` ``reset_in``
        seconds ahead (the endpoint's real window is left as it was).
        """
        self._limits.force(n, 429, reset_in=reset_in, endpoint=endpoint)

    def fail_next(self, n: int = 1, *, status: int = 503, endpoint: str | None = None) -> None:
        """Answer the next ``n`` requests (to ``endpoint`` if given) with a server error."""
        self._limits.force(n, status, reset_in=0.0, endpoint=endpoint)

    def calls(self, endpoint: str, *, status: int | None = None) -> int:
        """How many requests ``endpoint`` answered (with ``status``, if given)."""
        return sum(
            1
            for r in self.requests
            if r.endpoint == endpoint and (status is None or r.status == status)
        )

    async def wait_for(self, predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` holds (checked after each request)."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(predicate)

    async def wait_posted(self, n: int, *, timeout: float = 5.0) -> list[FakeTweet]:  # noqa: ASYNC109
        """Wait until ``n`` tweets were posted in total; return them."""
        await self.wait_for(lambda: len(self.posted) >= n, timeout=timeout)
        return list(self.posted)

    async def wait_calls(self, endpoint: str, n: int, *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``endpoint`` answered ``n`` requests in total (any status)."""
        await self.wait_for(lambda: self.calls(endpoint) >= n, timeout=timeout)

    def thread(self, root: FakeTweet | str) -> list[FakeTweet]:
        """The chain of posted tweets replying to ``root``, each to the previous, in order."""
        current = root.id if isinstance(root, FakeTweet) else root
        chain: list[FakeTweet] = []
        while True:
            nxt = [t for t in self.posted if t.in_reply_to_tweet_id == current]
            if not nxt:
                return chain
            chain.append(nxt[0])
            current = nxt[0].id

    # -- internals -------------------------------------------------------------------------
    def _parent(self, ref: FakeTweet | str | None) -> FakeTweet | None:
        if ref is None:
            return None
        return self.tweets[ref.id if isinstance(ref, FakeTweet) else ref]

    def _publish(
        self,
        text: str,
        author: FakeUser,
        parent: FakeTweet | None,
        media_keys: tuple[str, ...] = (),
    ) -> FakeTweet:
        tweet_id = str(next(self._ids))
        tweet = FakeTweet(
            id=tweet_id,
            text=text,
            author_id=author.id,
            conversation_id=parent.conversation_id if parent else tweet_id,
            created_at=datetime.fromtimestamp(self._clock(), UTC),
            in_reply_to_tweet_id=parent.id if parent else None,
            in_reply_to_user_id=parent.author_id if parent else None,
            mentions=find_mentions(text),
            media_keys=media_keys,
            **shortened(text, with_media=bool(media_keys)),
        )
        self.tweets[tweet_id] = tweet
        return tweet

    async def _answer(
        self,
        request: web.Request,
        endpoint: str,
        *,
        allow_bearer: bool,
        handle: Callable[[str, Any], tuple[int, Any]],
    ) -> web.Response:
        body = await read_body(request)
        auth = self._credentials.authenticate(request)
        window = self._limits.window(endpoint)
        refused = refusal(
            auth, endpoint, allow_bearer=allow_bearer, limits=self._limits, now=self._clock()
        )
        if refused is not None:
            status, payload, headers = refused
        else:
            window.remaining -= 1
            assert auth is not None
            status, payload, headers = *handled(handle, auth, body), {}
        headers.setdefault("x-rate-limit-limit", str(window.limit))
        headers.setdefault("x-rate-limit-remaining", str(max(0, window.remaining)))
        headers.setdefault("x-rate-limit-reset", str(int(window.reset)))
        recorded = without_segments(endpoint, body)
        self.requests.append(
            FakeRequest(
                request.method, request.path, endpoint, auth, status, dict(request.query), recorded
            )
        )
        async with self._changed:
            self._changed.notify_all()
        return web.Response(
            status=status,
            body=json.dumps(payload).encode(),
            headers=headers,
            content_type="application/json",
        )

    async def _users_me(self, request: web.Request) -> web.Response:
        return await self._answer(
            request,
            "users_me",
            allow_bearer=False,
            handle=lambda auth, body: user_answer(request.query, self.me),
        )

    async def _user_by_id(self, request: web.Request) -> web.Response:
        wanted = request.match_info["id"]
        return await self._answer(
            request,
            "users_id",
            allow_bearer=True,
            handle=lambda auth, body: user_by_id_answer(request.query, wanted, self._users),
        )

    async def _mentions(self, request: web.Request) -> web.Response:
        return await self._timeline(request, "mentions", authored=False)

    async def _user_tweets(self, request: web.Request) -> web.Response:
        return await self._timeline(request, "user_tweets", authored=True)

    async def _timeline(
        self, request: web.Request, endpoint: str, *, authored: bool
    ) -> web.Response:
        def handle(auth: str, body: Any) -> Answer:
            return mentions_answer(
                request.query,
                request.match_info["id"],
                users=self._users,
                tweets=self.tweets.values(),
                pager=self._pager,
                authored=authored,
                media=self.media,
                base_url=self.url,
            )

        return await self._answer(request, endpoint, allow_bearer=True, handle=handle)

    async def _create_tweet(self, request: web.Request) -> web.Response:
        def handle(auth: str, body: Any) -> Answer:
            text, parent = new_tweet(body, self.tweets)
            tweet = self._publish(text, self.me, parent, self.desk.attach(body, self.me.id))
            self.posted.append(tweet)
            return 201, {
                "data": {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}
            }

        return await self._answer(request, "create_tweet", allow_bearer=False, handle=handle)

    # -- media ---------------------------------------------------------------------------
    async def _media(self, endpoint: str, handle: Handle, request: web.Request) -> web.Response:
        return await self._answer(
            request, endpoint, allow_bearer=False, handle=lambda auth, body: handle(request, body)
        )

    async def _serve_media(self, request: web.Request) -> web.Response:
        data, content_type = self.desk.serve(request.path)
        async with self._changed:
            self._changed.notify_all()
        return web.Response(body=data, content_type=content_type)


__all__ = ["FakeRequest", "FakeX"]
