"""Retry policy for model endpoints, as pure functions: which failures to retry, how long to
wait (capped exponential backoff, or the server's ``Retry-After`` when it sends one).

::

    policy = RetryPolicy(max_retries=3)
    retry_delay(policy, attempt=0)                    # 0.5 s (times the jitter factor)
    retry_delay(policy, attempt=0, retry_after=7.0)   # 7.0 s: the server knows best
    retry_delay(policy, attempt=3)                    # None: give up
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from agent_runner.backoff import backoff_delay
from agent_runner.backoff import parse_retry_after as parse_value

RETRYABLE_STATUSES = frozenset({408, 409, 429})
"""Statuses worth retrying besides every 5xx: request timeout, lock timeout, rate limited."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a client retries.

    Attributes:
        max_retries: retries after the first attempt (0 = never retry).
        base_delay: the first backoff, in seconds; doubled on each retry.
        max_delay: the longest backoff, in seconds.
        max_retry_after: the longest ``Retry-After`` honoured; a server asking for more is
            not retried (the error is raised at once rather than waiting that long).
    """

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must be >= 0")


def is_retryable_status(status: int) -> bool:
    """True for 408, 409, 429 and every 5xx."""
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


def retry_delay(
    policy: RetryPolicy,
    attempt: int,
    *,
    retry_after: float | None = None,
    jitter: float | None = None,
) -> float | None:
    """Seconds to wait before retry number ``attempt + 1``, or None to give up.

    Args:
        policy: the caps.
        attempt: how many retries were already made (0 before the first retry).
        retry_after: the server's ``Retry-After`` in seconds, if it sent one. It is used as
            is (not jittered) when it is within ``policy.max_retry_after``; beyond that the
            call is not retried.
        jitter: a number in [0, 1) the caller draws; the backoff is then spread over
            [delay / 2, delay) so that many clients do not retry in step (None: no jitter).
    """
    if attempt >= policy.max_retries:
        return None
    if retry_after is not None and math.isfinite(retry_after):
        if retry_after > policy.max_retry_after:
            return None
        return max(0.0, retry_after)
    return backoff_delay(attempt + 1, base=policy.base_delay, cap=policy.max_delay, jitter=jitter)


def parse_retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """Read ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date) from headers.

    Args:
        headers: response headers (any key case).
        now: the current Unix time, for the HTTP-date form.

    Returns:
        Seconds to wait (never negative), or None when absent or unreadable.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = lowered.get(name)
        if raw is None:
            continue
        try:
            value = float(raw.strip())
        except ValueError:
            continue
        if math.isnan(value):
            continue
        return max(0.0, value / divisor)
    raw = lowered.get("retry-after")
    if not raw:
        return None
    return parse_value(raw, now=datetime.fromtimestamp(now, UTC))  # the HTTP-date form


__all__ = [
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "is_retryable_status",
    "parse_retry_after",
    "retry_delay",
]
