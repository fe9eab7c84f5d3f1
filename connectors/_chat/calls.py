"""Platform API calls with 429s waited out within a cap, and failures mapped.

Chat SDKs raise on a 429 and leave the wait to the caller. :class:`ApiCaller` runs each call
with a timeout; on a 429 it waits what the platform asked while the wait fits the
:class:`~agent_runner.backoff.RetryPolicy`, and raises
:class:`~agent_runner.errors.RateLimitedError` when it does not; any other failure becomes
the project's error through the platform's ``failure`` mapping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from agent_runner.backoff import RetryPolicy
from agent_runner.errors import AgentRunnerError, RateLimitedError

_log = logging.getLogger("connectors")
T = TypeVar("T")


def capped(policy: RetryPolicy, max_retry_after: float) -> RetryPolicy:
    """``policy`` with its longest obeyed wait lowered to ``max_retry_after``."""
    if policy.max_retry_after is not None and policy.max_retry_after <= max_retry_after:
        return policy
    return RetryPolicy(
        retries=policy.retries,
        base=policy.base,
        cap=policy.cap,
        jitter=policy.jitter,
        max_retry_after=max_retry_after,
        max_total=policy.max_total,
    )


class ApiCaller:
    """Runs one platform's API calls.

    Args:
        platform: the platform's name, for messages.
        retry: the waits on 429.
        timeout: seconds per attempt.
        rate_limited: the seconds a 429 asks to wait, for an exception that is a 429.
        failure: the project's error for any other exception of ``errors``.
        errors: the exceptions a call may raise (others propagate as they are).
        sleep: how waits sleep (injected in tests).
    """

    def __init__(
        self,
        *,
        platform: str,
        retry: RetryPolicy,
        timeout: float,
        rate_limited: Callable[[BaseException], float | None],
        failure: Callable[[BaseException, str], AgentRunnerError],
        errors: tuple[type[BaseException], ...],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.platform = platform
        self.retry = retry
        self.timeout = timeout
        self._rate_limited = rate_limited
        self._failure = failure
        self._errors: tuple[type[BaseException], ...] = (*errors, TimeoutError, OSError)
        self._sleep = sleep
        self.waits: list[float] = []
        """Every 429 wait taken, in seconds."""

    async def __call__(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """``await call()`` with 429 waits; raises the project's error on failure."""
        waited, attempt = 0.0, 0
        while True:
            try:
                async with asyncio.timeout(self.timeout):
                    return await call()
            except self._errors as exc:
                seconds = self._rate_limited(exc)
                if seconds is None:
                    raise self._failure(exc, what) from exc
                attempt += 1
                wait = self.retry.wait(attempt, retry_after=seconds, waited=waited)
                if wait is None:
                    raise RateLimitedError(
                        f"{self.platform} {what}: rate limited, asks {seconds:g}s after "
                        f"{attempt} attempt(s), over the cap ({self.retry.max_retry_after}s "
                        f"per wait, {self.retry.max_total}s in all)",
                        retry_after=seconds,
                    ) from None
                _log.warning("%s: %s rate limited; waiting %.2fs", self.platform, what, wait)
                self.waits.append(wait)
                await self._sleep(wait)
                waited += wait


__all__ = ["ApiCaller", "capped"]
