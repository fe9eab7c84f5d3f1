"""The HTTP side of the X client: an API base override and keeping secrets out of logs."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
from yarl import URL

X_HOSTS = frozenset({"api.twitter.com", "api.x.com"})
"""Hosts tweepy talks to; ``api_base`` replaces them."""
OAUTHLIB_LOGGER = "oauthlib.oauth1.rfc5849"
"""The logger of oauthlib's OAuth 1.0a signer (tweepy's, and the media uploads')."""


def api_base_middleware(
    base: str,
) -> Callable[[ClientRequest, ClientHandlerType], Awaitable[ClientResponse]]:
    """An aiohttp client middleware sending X API requests to ``base`` instead.

    The ``Host`` header keeps the real host, so OAuth 1.0a signatures computed for
    ``https://api.twitter.com/...`` still verify. Use it to point any tweepy ``AsyncClient``
    at a proxy or at :class:`agent_runner.testing.x.FakeX`::

        session = aiohttp.ClientSession(middlewares=(api_base_middleware(fake.url),))
        client = tweepy.asynchronous.AsyncClient(...)
        client.session = session
    """
    root = URL(base.rstrip("/"))
    prefix = root.raw_path.rstrip("/")

    async def rewrite(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        url = request.url
        if url.host in X_HOSTS:
            request.url = URL.build(
                scheme=root.scheme,
                host=root.raw_host or "",
                port=root.explicit_port,
                path=prefix + url.raw_path,
                query_string=url.raw_query_string,
                encoded=True,
            )
        return await handler(request)

    return rewrite


class RedactAuthorization(logging.Filter):
    """tweepy logs request headers at DEBUG; keep bearer tokens and signatures out of logs."""

    _HEADER = re.compile(r"'Authorization': '[^']*'")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "Authorization" in record.msg:
            record.msg = self._HEADER.sub("'Authorization': '<redacted>'", record.msg)
        return True


class RedactSigning(logging.Filter):
    """oauthlib logs each signature's parameters at DEBUG, the access token among them;
    keep only that it signed."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            record.msg, record.args = "OAuth 1.0a signing details (redacted)", ()
        return True


def install_redaction(logger_name: str = "tweepy.asynchronous.client") -> None:
    """Add :class:`RedactAuthorization` to tweepy's logger and :class:`RedactSigning` to
    oauthlib's signer's (once)."""
    for name, kind in ((logger_name, RedactAuthorization), (OAUTHLIB_LOGGER, RedactSigning)):
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())


__all__ = [
    "OAUTHLIB_LOGGER",
    "X_HOSTS",
    "RedactAuthorization",
    "RedactSigning",
    "api_base_middleware",
    "install_redaction",
]
