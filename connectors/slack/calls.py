"""Slack's rate limits and failures, for :class:`connectors._chat.calls.ApiCaller`.

slack_sdk's async client retries only connection errors by default; a 429 (``ratelimited``,
with ``Retry-After``) raises ``SlackApiError``, and the caller waits within the cap. A
refusal (``ok: false``: ``channel_not_found``, ``not_in_channel``, ``invalid_blocks``...) is
a :class:`~agent_runner.errors.DeliveryError`; a network failure or timeout a
:class:`~agent_runner.errors.ConnectorError` (the runner retries the send).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp

from agent_runner.backoff import RetryPolicy, retry_after_from_headers
from agent_runner.errors import AgentRunnerError, ConfigurationError, ConnectorError, DeliveryError
from connectors._chat.calls import ApiCaller
from connectors.slack.sdk import SlackApiError, SlackClientError

DEFAULT_RETRY = RetryPolicy(retries=6, base=1.0, cap=30.0, max_retry_after=30.0, max_total=120.0)
"""How Slack calls wait on 429: up to 6 retries, a ``Retry-After`` of up to 30 s obeyed
(longer: the call gives up), at most 120 s of waiting per call in all."""
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, TimeoutError, OSError)
_AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})


def rate_limit_wait(exc: BaseException) -> float | None:
    """Seconds a 429 asks to wait (``Retry-After``), or None when it is not a 429."""
    response = getattr(exc, "response", None)
    if not isinstance(exc, SlackApiError) or getattr(response, "status_code", None) != 429:
        return None
    headers = {str(k): str(v) for k, v in (getattr(response, "headers", None) or {}).items()}
    wait = retry_after_from_headers(headers)
    return 1.0 if wait is None else wait


def slack_error(exc: SlackApiError) -> str:
    data = getattr(exc.response, "data", None)
    if isinstance(data, dict):
        return str(data.get("error") or "unknown_error")
    return "unknown_error"


def mapped(exc: BaseException, what: str) -> AgentRunnerError:
    """The project's error for a Slack failure of ``what``."""
    if isinstance(exc, SlackApiError):
        error = slack_error(exc)
        if error in _AUTH_ERRORS:
            return ConfigurationError(f"Slack refused the token ({what}): {error}")
        return DeliveryError(f"Slack refused {what}: {error}")
    return ConnectorError(f"Slack {what} failed: {exc!r}")


def slack_caller(
    retry: RetryPolicy = DEFAULT_RETRY,
    *,
    timeout: float = 30.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ApiCaller:
    """An :class:`ApiCaller` for Web API calls."""
    return ApiCaller(
        platform="Slack",
        retry=retry,
        timeout=timeout,
        rate_limited=rate_limit_wait,
        failure=mapped,
        errors=(SlackClientError, *TRANSIENT_ERRORS),
        sleep=sleep,
    )


__all__ = [
    "DEFAULT_RETRY",
    "TRANSIENT_ERRORS",
    "mapped",
    "rate_limit_wait",
    "slack_caller",
    "slack_error",
]
