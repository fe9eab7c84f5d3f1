"""A fake X (Twitter) API v2 on 127.0.0.1, to test X bots offline with the real SDK.

It speaks the endpoints a mentions bot uses, as tweepy's ``AsyncClient`` calls them:

- ``GET /2/users/me`` (OAuth 1.0a user context),
- ``GET /2/users/:id`` (user context or app-only bearer token),
- ``GET /2/users/:id/mentions`` (user context or app-only bearer token; ``since_id``,
  ``until_id``, ``max_results``, ``pagination_token``, ``expansions``, ``tweet.fields``,
  ``user.fields``; answers ``data``/``includes``/``meta`` with ``newest_id``, ``oldest_id``
  and ``next_token``),
- ``POST /2/tweets`` (user context; ``text``, ``reply.in_reply_to_tweet_id``) -> 201.

Every OAuth 1.0a request is verified: the fake recomputes the HMAC-SHA1 signature over the
method, the URL the client signed (``https://`` + the ``Host`` header + path), the query and
the ``oauth_*`` parameters with the secrets it knows, and answers 401 on any mismatch, an
unknown key or token, a stale timestamp or a replayed nonce. Bearer tokens are checked too.
Every response carries ``x-rate-limit-limit/remaining/reset``; a spent window answers 429,
and :meth:`FakeX.rate_limit_next` forces 429s on demand.

Example, a pytest test of your bot through the whole runner::

    from agent_runner import AgentRuntime
    from agent_runner.store import InMemoryStore
    from agent_runner.testing.x import FakeX
    from connectors.x import XConnector

    async def test_my_bot_answers_in_thread() -> None:
        async with FakeX() as fake:
            x = XConnector.from_env(fake.env(), poll_interval=0.05, first_run="all")
            runtime = AgentRuntime([x], [x], my_agent, store=InMemoryStore())
            task = asyncio.create_task(runtime.run())
            mention = fake.add_mention("what is 2+2?", author="alice")
            [reply] = await fake.wait_posted(1)
            assert reply.in_reply_to_tweet_id == mention.id
            await runtime.stop()
            await task

The connector reaches it through ``X_API_BASE`` (its session rewrites
``https://api.twitter.com`` to the fake's URL and keeps the ``Host`` header, so the
signatures the SDK computed for the real host still verify). A bot written directly on
tweepy can do the same with :func:`connectors.x.api_base_middleware`::

    session = aiohttp.ClientSession(middlewares=(api_base_middleware(fake.url),))
    client = tweepy.asynchronous.AsyncClient(consumer_key=fake.consumer_key, ...)
    client.session = session

Test hooks: :meth:`FakeX.add_mention` / :meth:`FakeX.add_tweet` publish tweets,
:attr:`FakeX.posted` and :meth:`FakeX.thread` show what the bot tweeted,
:meth:`FakeX.rate_limit_next` and :meth:`FakeX.fail_next` inject 429s and 5xx,
:meth:`FakeX.wait_posted`, :meth:`FakeX.wait_calls` and :meth:`FakeX.wait_for` await events
(no sleeping), :attr:`FakeX.requests` records every request with how it authenticated.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from agent_runner.testing import _x_oauth as oauth
from agent_runner.testing._x_timeline import (
    EXPANSIONS,
    TWEET_FIELDS,
    USER_FIELDS,
    FakeTweet,
    FakeUser,
    InvalidParameter,
    Pager,
    check_fields,
    csv,
    find_mentions,
    mentions_user,
    page,
)

WINDOW_SECONDS = 900.0
"""X's rate-limit window: 15 minutes."""
X_LIMITS: Mapping[str, int] = {
    "users_me": 75,
    "users_id": 300,
    "mentions": 180,
    "create_tweet": 200,
}
"""X's own calls per 15-minute window per endpoint (user context), for realistic tests."""
DEFAULT_LIMITS: Mapping[str, int] = dict.fromkeys(X_LIMITS, 100_000)
"""The fake's default: generous, so a connector that paces its polls to the window
(as :class:`connectors.x.XConnector` does) still polls fast in tests."""
MAX_CODE_POINTS = 280
_TIMESTAMP_SKEW = 300.0
_FIRST_ID = 1_860_000_000_000_000_000


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


@dataclass(slots=True)
class _Window:
    limit: int
    remaining: int
    reset: float


@dataclass(slots=True)
class _Forced:
    count: int
    status: int
    reset_in: float
    endpoint: str | None


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
        clock: Unix time source for rate-limit windows and ``created_at`` (OAuth timestamps
            are checked against the real time, as the client stamps them with it).
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
    ) -> None:
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.access_token = access_token
        self.access_token_secret = access_token_secret
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
        self._limits = {**DEFAULT_LIMITS, **(limits or {})}
        self._windows: dict[str, _Window] = {}
        self._forced: list[_Forced] = []
        self._nonces: set[str] = set()
        self._pager = Pager()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""
        """``http://127.0.0.1:PORT`` once started."""

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1; :attr:`url` tells where."""
        app = web.Application()
        app.router.add_get("/2/users/me", self._users_me)
        app.router.add_get("/2/users/{id}/mentions", self._mentions)
        app.router.add_get("/2/users/{id}", self._user_by_id)
        app.router.add_post("/2/tweets", self._create_tweet)
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
        self, text: str, *, author: str, in_reply_to: FakeTweet | str | None = None
    ) -> FakeTweet:
        """Publish a tweet by ``author`` (a username), optionally in reply to another."""
        parent = self._parent(in_reply_to)
        return self._publish(text, self.user(author), parent)

    def add_mention(
        self, text: str, *, author: str = "alice", in_reply_to: FakeTweet | str | None = None
    ) -> FakeTweet:
        """Publish a tweet by ``author`` mentioning the bot (``@bot`` is prefixed if absent)."""
        handle = f"@{self.me.username}"
        if handle.lower() not in text.lower():
            text = f"{handle} {text}"
        return self.add_tweet(text, author=author, in_reply_to=in_reply_to)

    def rate_limit_next(
        self, n: int = 1, *, reset_in: float = 60.0, endpoint: str | None = None
    ) -> None:
        """Answer the next ``n`` requests (to ``endpoint`` if given) with 429.

        ``endpoint`` is ``"users_me"``, ``"users_id"``, ``"mentions"`` or ``"create_tweet"``;
        the 429 carries ``x-rate-limit-remaining: 0`` and ``x-rate-limit-reset`` ``reset_in``
        seconds ahead (the endpoint's real window is left as it was).
        """
        self._forced.append(_Forced(n, 429, reset_in, endpoint))

    def fail_next(self, n: int = 1, *, status: int = 503, endpoint: str | None = None) -> None:
        """Answer the next ``n`` requests (to ``endpoint`` if given) with a server error."""
        self._forced.append(_Forced(n, status, 0.0, endpoint))

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

    def _publish(self, text: str, author: FakeUser, parent: FakeTweet | None) -> FakeTweet:
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
        )
        self.tweets[tweet_id] = tweet
        return tweet

    def _window(self, endpoint: str) -> _Window:
        now = self._clock()
        window = self._windows.get(endpoint)
        if window is None or window.reset <= now:
            limit = self._limits.get(endpoint, 100_000)
            window = _Window(limit, limit, float(int(now + WINDOW_SECONDS)))
            self._windows[endpoint] = window
        return window

    def _take_forced(self, endpoint: str) -> _Forced | None:
        for forced in self._forced:
            if forced.endpoint in (None, endpoint):
                forced.count -= 1
                if forced.count <= 0:
                    self._forced.remove(forced)
                return forced
        return None

    def _authenticate(self, request: web.Request) -> str | None:
        """``"oauth1"``/``"bearer"`` when the request is authentic, else None."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header[len("Bearer ") :]
            ok = oauth.signatures_match(token, self.bearer_token)
            return "bearer" if ok else None
        params = oauth.parse_authorization(header)
        if not params or not self._oauth_valid(request, params):
            return None
        return "oauth1"

    def _oauth_valid(self, request: web.Request, params: dict[str, str]) -> bool:
        if (
            params.get("oauth_consumer_key") != self.consumer_key
            or params.get("oauth_token") != self.access_token
            or params.get("oauth_signature_method") != "HMAC-SHA1"
            or params.get("oauth_version", "1.0") != "1.0"
        ):
            return False
        try:
            stamp = float(params.get("oauth_timestamp", ""))
        except ValueError:
            return False
        nonce = params.get("oauth_nonce", "")
        if not nonce or abs(stamp - time.time()) > _TIMESTAMP_SKEW or nonce in self._nonces:
            return False
        path = request.raw_path.split("?", 1)[0]
        query = list(request.rel_url.query.items())
        forwarded = request.headers.get("X-Forwarded-Proto")
        for scheme in [forwarded] if forwarded else ["https", "http"]:
            uri = oauth.base_uri(scheme, request.host, path)
            expected = oauth.sign(
                request.method,
                uri,
                query,
                params,
                consumer_secret=self.consumer_secret,
                token_secret=self.access_token_secret,
            )
            if oauth.signatures_match(expected, params.get("oauth_signature", "")):
                self._nonces.add(nonce)
                return True
        return False

    async def _answer(
        self,
        request: web.Request,
        endpoint: str,
        *,
        allow_bearer: bool,
        handle: Callable[[str, Any], tuple[int, Any]],
    ) -> web.Response:
        body: Any = None
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                body = None
        auth = self._authenticate(request)
        window = self._window(endpoint)
        headers: dict[str, str] = {}
        if auth is None:
            status, payload = _problem(401, "Unauthorized", "Unauthorized")
        elif auth == "bearer" and not allow_bearer:
            status, payload = _problem(
                403,
                "Unsupported Authentication",
                "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint."
                "  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User "
                "Context].",
            )
        elif (forced := self._take_forced(endpoint)) is not None:
            if forced.status == 429:  # reported as a spent window; the real one is untouched
                headers["x-rate-limit-remaining"] = "0"
                headers["x-rate-limit-reset"] = str(int(self._clock() + forced.reset_in))
                status, payload = _problem(429, "Too Many Requests", "Too Many Requests")
            else:
                status, payload = _problem(forced.status, "Service Unavailable", "Try later")
        elif window.remaining <= 0:
            status, payload = _problem(429, "Too Many Requests", "Too Many Requests")
        else:
            window.remaining -= 1
            try:
                status, payload = handle(auth, body)
            except InvalidParameter as exc:
                status, payload = 400, _invalid_request(exc)
        headers.setdefault("x-rate-limit-limit", str(window.limit))
        headers.setdefault("x-rate-limit-remaining", str(max(0, window.remaining)))
        headers.setdefault("x-rate-limit-reset", str(int(window.reset)))
        self.requests.append(
            FakeRequest(
                request.method, request.path, endpoint, auth, status, dict(request.query), body
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
        def handle(auth: str, body: Any) -> tuple[int, Any]:
            fields = csv(request.query.get("user.fields"))
            check_fields("user.fields", fields, USER_FIELDS)
            return 200, {"data": self.me.render(fields)}

        return await self._answer(request, "users_me", allow_bearer=False, handle=handle)

    async def _user_by_id(self, request: web.Request) -> web.Response:
        def handle(auth: str, body: Any) -> tuple[int, Any]:
            fields = csv(request.query.get("user.fields"))
            check_fields("user.fields", fields, USER_FIELDS)
            wanted = request.match_info["id"]
            user = next((u for u in self._users.values() if u.id == wanted), None)
            if user is None:
                return 200, {
                    "errors": [
                        {
                            "value": wanted,
                            "detail": f"Could not find user with id: [{wanted}].",
                            "title": "Not Found Error",
                            "resource_type": "user",
                            "parameter": "id",
                            "resource_id": wanted,
                            "type": "https://api.twitter.com/2/problems/resource-not-found",
                        }
                    ]
                }
            return 200, {"data": user.render(fields)}

        return await self._answer(request, "users_id", allow_bearer=True, handle=handle)

    async def _mentions(self, request: web.Request) -> web.Response:
        def handle(auth: str, body: Any) -> tuple[int, Any]:
            q = request.query
            user = next((u for u in self._users.values() if u.id == request.match_info["id"]), None)
            if user is None:
                return _problem(404, "Not Found Error", "Could not find user")
            tweet_fields = csv(q.get("tweet.fields"))
            user_fields = csv(q.get("user.fields"))
            expansions = csv(q.get("expansions"))
            check_fields("tweet.fields", tweet_fields, TWEET_FIELDS)
            check_fields("user.fields", user_fields, USER_FIELDS)
            check_fields("expansions", expansions, EXPANSIONS)
            max_results = _int_param(q, "max_results", 10)
            if not 5 <= max_results <= 100:
                raise InvalidParameter(
                    "max_results",
                    str(max_results),
                    "The `max_results` query parameter value "
                    f"[{max_results}] is not between 5 and 100",
                )
            token = q.get("pagination_token")
            timeline = [t for t in self.tweets.values() if mentions_user(t, user)]
            chunk, meta = page(
                timeline,
                since_id=_int_param(q, "since_id", None),
                until_id=_int_param(q, "until_id", None),
                max_results=max_results,
                older_than=self._pager.resolve(token) if token else None,
                pager=self._pager,
            )
            payload: dict[str, Any] = {}
            if chunk:
                payload["data"] = [t.render(tweet_fields, self._users) for t in chunk]
                users = self._expanded_users(chunk, expansions)
                if users:
                    payload["includes"] = {"users": [u.render(user_fields) for u in users]}
            payload["meta"] = meta
            return 200, payload

        return await self._answer(request, "mentions", allow_bearer=True, handle=handle)

    def _expanded_users(self, tweets: list[FakeTweet], expansions: list[str]) -> list[FakeUser]:
        by_id = {u.id: u for u in self._users.values()}
        wanted: dict[str, FakeUser] = {}
        for tweet in tweets:
            ids = []
            if "author_id" in expansions:
                ids.append(tweet.author_id)
            if "in_reply_to_user_id" in expansions and tweet.in_reply_to_user_id:
                ids.append(tweet.in_reply_to_user_id)
            if "entities.mentions.username" in expansions:
                ids += [
                    self._users[n.lower()].id
                    for _, _, n in tweet.mentions
                    if n.lower() in self._users
                ]
            for user_id in ids:
                if user_id in by_id:
                    wanted.setdefault(user_id, by_id[user_id])
        return list(wanted.values())

    async def _create_tweet(self, request: web.Request) -> web.Response:
        def handle(auth: str, body: Any) -> tuple[int, Any]:
            if not isinstance(body, dict):
                return _problem(400, "Invalid Request", "The request body is not valid JSON")
            text = body.get("text")
            if not isinstance(text, str) or not text.strip():
                return _problem(400, "Invalid Request", "Tweet text is empty")
            if len(text) > MAX_CODE_POINTS:
                return _problem(403, "Forbidden", "Tweet text is too long")
            reply = body.get("reply") or {}
            parent_id = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
            parent = self.tweets.get(str(parent_id)) if parent_id is not None else None
            if parent_id is not None and parent is None:
                return _problem(
                    403,
                    "Forbidden",
                    "You attempted to reply to a Tweet that is deleted or not visible to you.",
                )
            tweet = self._publish(text, self.me, parent)
            self.posted.append(tweet)
            return 201, {
                "data": {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}
            }

        return await self._answer(request, "create_tweet", allow_bearer=False, handle=handle)


def _int_param(query: Mapping[str, str], name: str, default: int | None) -> Any:
    value = query.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidParameter(
            name, value, f"The `{name}` query parameter value [{value}] is not a number"
        ) from None


def _problem(status: int, title: str, detail: str) -> tuple[int, dict[str, Any]]:
    return status, {"title": title, "detail": detail, "type": "about:blank", "status": status}


def _invalid_request(exc: InvalidParameter) -> dict[str, Any]:
    return {
        "errors": [{"parameters": {exc.parameter: [exc.value]}, "message": str(exc)}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


__all__ = [
    "DEFAULT_LIMITS",
    "MAX_CODE_POINTS",
    "WINDOW_SECONDS",
    "X_LIMITS",
    "FakeRequest",
    "FakeTweet",
    "FakeUser",
    "FakeX",
]
