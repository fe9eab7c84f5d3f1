"""The X API v2 calls the connector makes (tweepy ``AsyncClient``), with waits and retries.

Every call goes through :meth:`XApi.call`: it waits for a spent rate-limit window to reset
(``x-rate-limit-*`` headers, :mod:`connectors.x.ratelimit`), retries 429, 5xx and network
errors as the connector's :class:`~agent_runner.backoff.RetryPolicy` allows, and never
retries a call that may have been applied (creating a tweet after a timeout or a 500).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import tweepy
from oauthlib.oauth1 import Client as OAuthClient
from tweepy.asynchronous import AsyncClient

from agent_runner.backoff import RetryPolicy
from agent_runner.errors import ConnectorError, DeliveryError, RateLimitedError
from connectors.x.errors import TRANSIENT_API_ERRORS, describe, surely_not_applied
from connectors.x.media import MEDIA_FIELDS, media_by_key
from connectors.x.mentions import EXPANSIONS, TWEET_FIELDS
from connectors.x.ratelimit import RateWindow, parse_window, until_reset, wait_for_window
from connectors.x.session import api_base_middleware, install_redaction

log = logging.getLogger("connectors.x")

API_ROOT = "https://api.twitter.com"
"""The root tweepy sends every request to (``api_base`` rewrites it on the session)."""
_ERRORS: dict[int, type[tweepy.HTTPException]] = {
    400: tweepy.BadRequest,
    401: tweepy.Unauthorized,
    403: tweepy.Forbidden,
    404: tweepy.NotFound,
}


class XApi:
    """One X account's client: an aiohttp session, tweepy, and the rate-limit windows seen.

    Args:
        oauth: consumer key and secret, access token and secret (OAuth 1.0a user context).
        bearer_token: the app-only token.
        api_base: API root replacing ``https://api.twitter.com``; None: real X.
        retry: how calls wait and retry.
        request_timeout: seconds per HTTP request.
        clock, sleep: time source and sleep (injected in tests).
    """

    def __init__(
        self,
        *,
        oauth: tuple[str | None, str | None, str | None, str | None],
        bearer_token: str | None,
        api_base: str | None,
        retry: RetryPolicy,
        request_timeout: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._oauth = oauth
        self._bearer = bearer_token
        self.api_base = api_base
        self.retry = retry
        self.request_timeout = request_timeout
        self._clock = clock
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self._client: Any = None
        self._windows: dict[str, RateWindow] = {}

    @property
    def has_user_auth(self) -> bool:
        """True with all four OAuth 1.0a credentials (posting, ``users/me``)."""
        return all(self._oauth)

    @property
    def is_open(self) -> bool:
        return self._client is not None

    def window(self, endpoint: str) -> RateWindow | None:
        """The rate-limit window ``endpoint`` last reported, if any."""
        return self._windows.get(endpoint)

    async def open(self) -> None:
        """Create the HTTP session and the tweepy client."""
        if self._client is not None:
            return
        install_redaction()
        middlewares = (api_base_middleware(self.api_base),) if self.api_base else ()
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.request_timeout), middlewares=middlewares
        )
        consumer_key, consumer_secret, access_token, access_token_secret = self._oauth
        client = AsyncClient(
            bearer_token=self._bearer,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=access_token_secret,
            return_type=aiohttp.ClientResponse,
            wait_on_rate_limit=False,
        )
        client.session = self._session
        self._client = client

    async def close(self) -> None:
        """Close the HTTP session. Safe to call twice."""
        session, self._session, self._client = self._session, None, None
        if session is not None:
            await session.close()

    # -- endpoints -------------------------------------------------------------------------
    async def me(self) -> dict[str, Any]:
        """``GET /2/users/me`` (user context)."""
        client = self._require_client()
        return await self.call("users_me", lambda: client.get_me(user_auth=True))

    async def user(self, user_id: str) -> dict[str, Any]:
        """``GET /2/users/:id``."""
        client = self._require_client()
        return await self.call("users_id", lambda: client.get_user(id=user_id))

    async def mentions(
        self,
        user_id: str,
        *,
        since_id: int | None,
        token: str | None,
        size: int,
        user_auth: bool,
    ) -> dict[str, Any]:
        """One page of ``GET /2/users/:id/mentions``: ``size`` mentions newer than
        ``since_id``, from ``token`` (a ``next_token``) on, with their authors and media."""
        params: dict[str, Any] = {
            "max_results": size,
            "expansions": list(EXPANSIONS),
            "tweet_fields": list(TWEET_FIELDS),
            "media_fields": list(MEDIA_FIELDS),
            "user_auth": user_auth,
        }
        if since_id is not None:
            params["since_id"] = since_id
        if token is not None:
            params["pagination_token"] = token
        client = self._require_client()
        return await self.call("mentions", lambda: client.get_users_mentions(user_id, **params))

    async def new_mentions(
        self,
        user_id: str,
        *,
        since_id: int | None,
        page_size: int,
        max_pages: int,
        user_auth: bool,
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """Every mention newer than ``since_id`` (at most ``max_pages`` pages), their
        authors by id and their media by ``media_key``."""
        tweets: list[dict[str, Any]] = []
        users: dict[str, dict[str, Any]] = {}
        media: dict[str, dict[str, Any]] = {}
        token: str | None = None
        for _ in range(max_pages):
            body = await self.mentions(
                user_id, since_id=since_id, token=token, size=page_size, user_auth=user_auth
            )
            tweets += [t for t in body.get("data") or () if isinstance(t, dict)]
            for user in (body.get("includes") or {}).get("users") or ():
                users[str(user["id"])] = user
            media.update(media_by_key(body.get("includes")))
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                break
        else:
            if token:
                log.warning(
                    "x: more than %d pages of new mentions; older ones are skipped", max_pages
                )
        return tweets, users, media

    async def own_tweets(self, user_id: str, *, size: int = 100) -> list[dict[str, Any]]:
        """The account's latest ``size`` tweets (``GET /2/users/:id/tweets``), newest first,
        with ``referenced_tweets``, ``entities`` and ``attachments`` (for reconciling a
        post a crash interrupted)."""
        client = self._require_client()
        fields = ["attachments", "entities", "referenced_tweets"]
        body = await self.call(
            "user_tweets",
            lambda: client.get_users_tweets(
                user_id, max_results=size, tweet_fields=fields, user_auth=True
            ),
        )
        return [t for t in body.get("data") or () if isinstance(t, dict)]

    async def create_tweet(
        self, text: str, in_reply_to: str | None, media_ids: list[str] | None = None
    ) -> dict[str, Any]:
        """``POST /2/tweets`` (user context), with ``media.media_ids`` when given; retried
        only when X surely did not post it."""
        client = self._require_client()
        return await self.call(
            "create_tweet",
            lambda: client.create_tweet(
                text=text or None,
                in_reply_to_tweet_id=in_reply_to,
                media_ids=media_ids or None,
                user_auth=True,
            ),
            idempotent=False,
        )

    async def user_request(
        self,
        endpoint: str,
        method: str,
        route: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An endpoint tweepy has no method for (media upload v2), as JSON or a query, signed
        by tweepy with OAuth 1.0a user context; waits and retries as :meth:`call`."""
        client = self._require_client()
        return await self.call(
            endpoint,
            lambda: client.request(method, route, params=params or {}, json=json, user_auth=True),
        )

    async def user_form(
        self, endpoint: str, route: str, fields: dict[str, str], file: tuple[str, bytes]
    ) -> dict[str, Any]:
        """``POST route`` as multipart form data (``fields`` and ``file``: its field name and
        bytes), which tweepy does not send: signed with OAuth 1.0a user context by oauthlib,
        the signer tweepy uses (a multipart body is not part of the signature), on the same
        session; waits and retries as :meth:`call`."""
        self._require_client()
        return await self.call(endpoint, lambda: self._post_form(route, fields, file))

    async def _post_form(
        self, route: str, fields: dict[str, str], file: tuple[str, bytes]
    ) -> aiohttp.ClientResponse:
        client, session = self._require_client(), self._session
        assert session is not None
        signer = OAuthClient(*self._oauth)
        url, headers, _ = signer.sign(
            API_ROOT + route, "POST", headers={"User-Agent": client.user_agent}
        )
        form = aiohttp.FormData(fields)
        form.add_field(
            file[0], io.BytesIO(file[1]), filename="chunk", content_type="application/octet-stream"
        )
        async with session.post(url, data=form, headers=headers) as response:
            await response.read()
        if not 200 <= response.status < 300:
            raise await _http_error(response)
        return response

    # -- waits and retries -----------------------------------------------------------------
    async def call(
        self, endpoint: str, call: Callable[[], Awaitable[Any]], *, idempotent: bool = True
    ) -> dict[str, Any]:
        """One API call with the connector's waits and bounded retries; the JSON body.

        A call that is not ``idempotent`` (creating a tweet) is retried only when X surely
        did not act on it (429, 503, no connection): after a timeout or a 500 the tweet may
        exist, and posting it again would answer twice.
        """
        waited, attempt = 0.0, 0
        while True:
            delay = wait_for_window(self._windows.get(endpoint), self._clock())
            if delay > 0:
                if self.retry.max_total is not None and waited + delay > self.retry.max_total:
                    raise RateLimitedError(
                        f"X {endpoint}: rate limit window resets in {delay:.0f}s, over the "
                        f"{self.retry.max_total:.0f}s wait cap",
                        retry_after=delay,
                    )
                log.warning("x: %s window spent; waiting %.0fs for its reset", endpoint, delay)
                await self._sleep(delay)
                waited += delay
                self._windows.pop(endpoint, None)
            try:
                response = await call()
            except tweepy.TooManyRequests as exc:
                self._note_window(endpoint, exc.response.headers)
                reset = float(exc.reset_time) if exc.reset_time is not None else None
                reset_in = until_reset(reset, self._clock())
                wait = self.retry.wait(attempt + 1, retry_after=reset_in, waited=waited)
                if wait is None:
                    away = f"{reset_in:.0f}s" if reset_in is not None else "unknown"
                    raise RateLimitedError(
                        f"X {endpoint}: rate limited (429) after {attempt + 1} attempts; the "
                        f"reset is {away} away (wait cap {self.retry.max_total}s)",
                        retry_after=reset_in,
                    ) from None
                delay = wait
                log.warning(
                    "x: %s rate limited (429); waiting %.0fs (retry %d of %d)",
                    endpoint,
                    delay,
                    attempt + 1,
                    self.retry.retries,
                )
                await self._sleep(delay)
                waited += delay
                attempt += 1
                self._windows.pop(endpoint, None)
                continue
            except TRANSIENT_API_ERRORS as exc:
                if not idempotent and not surely_not_applied(exc):
                    raise DeliveryError(
                        f"X {endpoint}: outcome unknown ({describe(exc)}); not retried, to "
                        "avoid posting twice"
                    ) from exc
                wait = self.retry.wait(attempt + 1, waited=waited)
                if wait is None:
                    raise ConnectorError(
                        f"X {endpoint} failed after {attempt + 1} attempts: {describe(exc)}"
                    ) from exc
                delay = wait
                log.warning("x: %s failed (%s); retrying in %.1fs", endpoint, describe(exc), delay)
                await self._sleep(delay)
                waited += delay
                attempt += 1
                continue
            except tweepy.HTTPException as exc:
                raise DeliveryError(f"X {endpoint} refused the request: {describe(exc)}") from exc
            self._note_window(endpoint, response.headers)
            body = await response.json()
            return body if isinstance(body, dict) else {}

    def _note_window(self, endpoint: str, headers: Mapping[str, str]) -> None:
        window = parse_window(headers)
        if window is not None:
            self._windows[endpoint] = window

    def require_open(self) -> None:
        """Raise ConnectorError unless :meth:`open` was called (and not :meth:`close`)."""
        self._require_client()

    def _require_client(self) -> Any:
        if self._client is None:
            raise ConnectorError("the X connector is not open (call open() or use async with)")
        return self._client


async def _http_error(response: aiohttp.ClientResponse) -> tweepy.HTTPException:
    """The tweepy exception tweepy raises for this status (so :meth:`XApi.call` treats a
    multipart call as it treats the others)."""
    try:
        body = await response.json(content_type=None)
    except ValueError:
        body = None
    if response.status == 429:
        reset = response.headers.get("x-rate-limit-reset")
        return tweepy.TooManyRequests(
            response, response_json=body, reset_time=int(reset) if reset else None
        )
    if response.status >= 500:
        return tweepy.TwitterServerError(response, response_json=body)
    return _ERRORS.get(response.status, tweepy.HTTPException)(response, response_json=body)


__all__ = ["API_ROOT", "XApi"]
