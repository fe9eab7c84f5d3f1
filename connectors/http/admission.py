"""Whether a request may pass: per-client rate limit, body size limit, authentication.

Checked in that order, cheapest first, so a flood or an oversized body costs no HMAC. Each
refusal is a :class:`~connectors.http.errors.RequestError` (429 with ``Retry-After``, 413,
401 with ``WWW-Authenticate``) that the error middleware answers as JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from aiohttp import web

from agent_runner.http_server import read_body
from connectors.http.auth import Authenticator
from connectors.http.errors import RequestError
from connectors.http.ratelimit import RateLimiter, SharedWindow


class Admission:
    """The HTTP connector's door: admits a request and hands back its body.

    Args:
        auth: the token and/or HMAC checks (every request passes when neither is set).
        limiter: per-client token buckets; None turns rate limiting off.
        max_body: bytes; a larger body is refused with 413.
        body_timeout: seconds to receive the body; a slower one is refused with 408 (and
            the connection closed).
        trust_forwarded: rate-limit by the first ``X-Forwarded-For`` address instead of
            the peer address (only behind a reverse proxy that sets it).
    """

    __slots__ = ("_auth", "_body_timeout", "_limiter", "_trust_forwarded", "max_body", "shared")

    def __init__(
        self,
        *,
        auth: Authenticator,
        limiter: RateLimiter | None,
        max_body: int,
        body_timeout: float = 30.0,
        trust_forwarded: bool = False,
    ) -> None:
        self._body_timeout = body_timeout
        self._auth = auth
        self._limiter = limiter
        self._trust_forwarded = trust_forwarded
        self.max_body = max_body
        self.shared: SharedWindow | None = None
        """The per-minute count across replicas (set when the store is shared, see bind)."""

    @property
    def limiter(self) -> RateLimiter | None:
        return self._limiter

    def describe(self) -> str:
        """``auth: ..., rate limit: ..., max body: ...`` for ``agent-runner check``."""
        auth = [
            n for n, on in (("bearer", self._auth.token), ("hmac", self._auth.hmac_secret)) if on
        ]
        limit = f"{self._limiter.rate * 60:g}/min" if self._limiter is not None else "off"
        return (
            f"auth: {'+'.join(auth) or 'none'}, rate limit: {limit}, "
            f"max body: {self.max_body} bytes"
        )

    async def admit(self, request: web.Request) -> bytes:
        """The request's body when it may pass; a RequestError saying why otherwise."""
        await self.check_rate(self.client(request.headers, request.remote))
        length = request.content_length
        if length is not None and length > self.max_body:
            raise RequestError(
                413, f"request body is larger than the limit of {self.max_body} bytes"
            )
        body = await read_body(request, within=self._body_timeout)
        if body is None:
            raise RequestError(
                408, f"the request body did not arrive within {self._body_timeout:g}s"
            )
        self.check_auth(request.headers, body)
        return body

    async def admit_read(self, headers: Mapping[str, str], remote: str | None, body: bytes) -> None:
        """:meth:`admit` for a request whose body the front read (within the size limit)."""
        if self._limiter is not None:
            await self.check_rate(self.client(headers, remote))
        self.check_auth(headers, body)

    async def check_rate(self, client: str) -> None:
        """A 429 with ``Retry-After`` when ``client`` is over its rate."""
        if self._limiter is None:
            return
        wait = self._limiter.hit(client)
        if wait <= 0 and self.shared is not None:
            wait = await self.shared.hit(client)
        if wait > 0:
            seconds = max(1, math.ceil(wait)) if math.isfinite(wait) else 60
            raise RequestError(
                429,
                f"rate limit exceeded; retry in {seconds}s",
                headers={"Retry-After": str(seconds)},
            )

    def check_auth(self, headers: Mapping[str, str], body: bytes) -> None:
        """A 401 when the request's token or signature is missing or wrong."""
        reason = self._auth.check(headers, body)
        if reason is not None:
            raise RequestError(401, reason, headers={"WWW-Authenticate": "Bearer"})

    def client(self, headers: Mapping[str, str], remote: str | None) -> str:
        """Who a request counts against for rate limiting."""
        if self._trust_forwarded:
            forwarded = headers.get("X-Forwarded-For", "").split(",", 1)[0].strip()
            if forwarded:
                return forwarded
        return remote or "unknown"


__all__ = ["Admission"]
