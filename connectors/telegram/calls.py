"""Telegram's flood control and failures, for :class:`connectors._chat.calls.ApiCaller`.

python-telegram-bot raises ``RetryAfter`` on a 429 and never retries by itself: the caller
waits ``parameters.retry_after`` within the cap. A refusal (400, 403) is a
:class:`~agent_runner.errors.DeliveryError` (retrying cannot fix it), a network failure or
timeout a :class:`~agent_runner.errors.ConnectorError` (the runner retries the send).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

from agent_runner.backoff import RetryPolicy
from agent_runner.errors import (
    AgentRunnerError,
    ConfigurationError,
    ConnectorError,
    DeliveryError,
    RateLimitedError,
)
from connectors._chat.calls import ApiCaller
from connectors.telegram.sdk import telegram

DEFAULT_RETRY = RetryPolicy(retries=6, base=0.5, cap=30.0, max_retry_after=30.0, max_total=120.0)
"""How Telegram calls wait on 429: up to 6 retries, a ``retry_after`` of up to 30 s obeyed
(longer: the call gives up), at most 120 s of waiting per call in all."""
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    telegram.error.NetworkError,
    telegram.error.TimedOut,
    TimeoutError,
    OSError,
)
"""Failures worth retrying later (``BadRequest`` is a NetworkError subclass; it is not)."""


def retry_after_seconds(exc: telegram.error.RetryAfter) -> float:
    """``RetryAfter.retry_after`` in seconds (a timedelta, or int seconds without opt-in)."""
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def rate_limited(exc: BaseException) -> float | None:
    return retry_after_seconds(exc) if isinstance(exc, telegram.error.RetryAfter) else None


def mapped(exc: BaseException, what: str) -> AgentRunnerError:
    """The project's error for a Telegram failure of ``what``."""
    if isinstance(exc, telegram.error.RetryAfter):
        seconds = retry_after_seconds(exc)
        return RateLimitedError(f"Telegram {what}: asks to wait {seconds:g}s", retry_after=seconds)
    if not isinstance(exc, telegram.error.TelegramError):
        return ConnectorError(f"Telegram {what} failed: {exc!r}")
    if isinstance(exc, telegram.error.InvalidToken):
        return ConfigurationError(f"Telegram rejected the bot token ({what}): {exc.message}")
    if isinstance(exc, telegram.error.BadRequest | telegram.error.Forbidden):
        return DeliveryError(f"Telegram refused {what}: {exc.message}")
    if isinstance(exc, telegram.error.ChatMigrated):
        return DeliveryError(f"Telegram {what}: the group moved to chat {exc.new_chat_id}")
    return ConnectorError(f"Telegram {what} failed: {exc.message}")


def telegram_caller(
    retry: RetryPolicy = DEFAULT_RETRY,
    *,
    timeout: float = 30.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ApiCaller:
    """An :class:`ApiCaller` for Bot API calls."""
    return ApiCaller(
        platform="Telegram",
        retry=retry,
        timeout=timeout,
        rate_limited=rate_limited,
        failure=mapped,
        errors=(telegram.error.TelegramError,),
        sleep=sleep,
    )


__all__ = [
    "DEFAULT_RETRY",
    "TRANSIENT_ERRORS",
    "mapped",
    "rate_limited",
    "retry_after_seconds",
    "telegram_caller",
]
