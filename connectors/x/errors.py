"""What X's failures mean: the one error of the connector's own, and which failures to retry.

Everything else the connector raises is one of the runner's errors
(:mod:`agent_runner.errors`): ``ConfigurationError`` for missing credentials,
``RateLimitedError`` when a rate-limit reset is further away than the wait cap,
``DeliveryError`` when X refuses a request (or a post's outcome is unknown), and
``ConnectorError`` when retries are spent.
"""

from __future__ import annotations

import asyncio

import aiohttp
import tweepy

from agent_runner.errors import DeliveryError

TRANSIENT_API_ERRORS: tuple[type[BaseException], ...] = (
    tweepy.TwitterServerError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
)
"""Failures worth retrying (after a backoff): X's 5xx, network errors, timeouts."""


class DailyPostCapError(DeliveryError):
    """The daily post cap is reached: the reply was not posted (and will not be retried)."""


def surely_not_applied(exc: BaseException) -> bool:
    """True for failures where X cannot have acted on the request."""
    if isinstance(exc, tweepy.TwitterServerError):
        return bool(exc.response.status == 503)
    return isinstance(exc, aiohttp.ClientConnectorError)


def describe(exc: BaseException) -> str:
    """A one-line description of a failed call (tweepy's messages span lines)."""
    if isinstance(exc, tweepy.HTTPException):
        return str(exc).replace("\n", "; ")
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


__all__ = ["TRANSIENT_API_ERRORS", "DailyPostCapError", "describe", "surely_not_applied"]
