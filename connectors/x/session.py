"""The HTTP side of the X client: an API base override and keeping secrets out of logs."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
from yarl import URL

X_HOSTS = frozenset({"api.twitter.com", "api.x.com"})
"""Hosts tweepy talks to; ``api_base`` replaces them."""


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


def install_redaction(logger_name: str = "tweepy.asynchronous.client") -> None:
    """Add :class:`RedactAuthorization` to tweepy's logger (once)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactAuthorization) for f in logger.filters):
        logger.addFilter(RedactAuthorization())


__all__ = ["X_HOSTS", "RedactAuthorization", "api_base_middleware", "install_redaction"]
