"""Bot API calls with Telegram's flood control obeyed within a cap, and errors mapped.

python-telegram-bot raises ``RetryAfter`` on a 429 and never retries by itself; here the
call waits what Telegram asked (``parameters.retry_after``) while the wait fits the
:class:`~agent_runner.backoff.RetryPolicy`, and gives up with
:class:`~agent_runner.errors.RateLimitedError` when it does not. Every other failure becomes
the project's error for it: a refusal (400, 403) is a
:class:`~agent_runner.errors.DeliveryError` (retrying cannot fix it), a network failure or
timeout a :class:`~agent_runner.errors.ConnectorError` (the runner retries the send).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from agent_runner.backoff import RetryPolicy
from agent_runner.errors import (
    AgentRunnerError,
    ConfigurationError,
    ConnectorError,
    DeliveryError,
    RateLimitedError,
)
from connectors.telegram.sdk import telegram

_log = logging.getLogger("connectors.telegram")
T = TypeVar("T")

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


def mapped(exc: telegram.error.TelegramError, what: str) -> AgentRunnerError:
    """The project's error for a Telegram failure of ``what``."""
    if isinstance(exc, telegram.error.RetryAfter):
        seconds = retry_after_seconds(exc)
        return RateLimitedError(f"Telegram {what}: asks to wait {seconds:g}s", retry_after=seconds)
    if isinstance(exc, telegram.error.InvalidToken):
        return ConfigurationError(f"Telegram rejected the bot token ({what}): {exc.message}")
    if isinstance(exc, telegram.error.BadRequest | telegram.error.Forbidden):
        return DeliveryError(f"Telegram refused {what}: {exc.message}")
    if isinstance(exc, telegram.error.ChatMigrated):
        return DeliveryError(f"Telegram {what}: the group moved to chat {exc.new_chat_id}")
    return ConnectorError(f"Telegram {what} failed: {exc.message}")


class ApiCaller:
    """Runs Bot API calls: each with a timeout, 429s waited out under ``retry``."""

    def __init__(
        self,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.retry = retry
        self.timeout = timeout
        self._sleep = sleep
        self.waits: list[float] = []
        """Every 429 wait taken, in seconds (for tests and logs)."""

    async def __call__(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """``await call()`` with 429 waits; raises the project's error on failure."""
        waited, attempt = 0.0, 0
        while True:
            try:
                async with asyncio.timeout(self.timeout):
                    return await call()
            except telegram.error.RetryAfter as exc:
                attempt += 1
                seconds = retry_after_seconds(exc)
                wait = self.retry.wait(attempt, retry_after=seconds, waited=waited)
                if wait is None:
                    raise RateLimitedError(
                        f"Telegram {what}: flood control asks {seconds:g}s after {attempt} "
                        f"attempt(s), over the cap ({self.retry.max_retry_after}s per wait, "
                        f"{self.retry.max_total}s in all)",
                        retry_after=seconds,
                    ) from None
                _log.warning("telegram: %s rate limited; waiting %.2fs", what, wait)
                self.waits.append(wait)
                await self._sleep(wait)
                waited += wait
            except telegram.error.TelegramError as exc:
                raise mapped(exc, what) from exc
            except (TimeoutError, OSError) as exc:
                raise ConnectorError(f"Telegram {what} failed: {exc!r}") from exc


__all__ = ["DEFAULT_RETRY", "TRANSIENT_ERRORS", "ApiCaller", "mapped", "retry_after_seconds"]
