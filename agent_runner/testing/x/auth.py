"""Who a request to the fake X is: the OAuth 1.0a user, the app (bearer token), or nobody.

An OAuth 1.0a request must carry the known consumer key and access token, HMAC-SHA1, a
timestamp within five minutes of the real time and a nonce never seen before, and the
signature the fake recomputes (:mod:`agent_runner.testing.x.oauth`) over the URL the client
signed: ``https://`` (or ``X-Forwarded-Proto``) + the ``Host`` header + the path.
"""

from __future__ import annotations

import time
from typing import Literal

from aiohttp import web

from agent_runner.testing.x import oauth

TIMESTAMP_SKEW = 300.0
"""Seconds an OAuth timestamp may be off the real time."""

Auth = Literal["oauth1", "bearer"]


class Credentials:
    """The credentials the fake accepts, and the OAuth nonces it has seen."""

    def __init__(
        self,
        *,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        bearer_token: str,
    ) -> None:
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.access_token = access_token
        self.access_token_secret = access_token_secret
        self.bearer_token = bearer_token
        self._nonces: set[str] = set()

    def authenticate(self, request: web.Request) -> Auth | None:
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
        if not nonce or abs(stamp - time.time()) > TIMESTAMP_SKEW or nonce in self._nonces:
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


__all__ = ["TIMESTAMP_SKEW", "Auth", "Credentials"]
