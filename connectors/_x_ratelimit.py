"""Rate-limit arithmetic for X, as pure functions of headers and a clock.

X sends, on every API v2 response, ``x-rate-limit-limit`` (calls per window),
``x-rate-limit-remaining`` and ``x-rate-limit-reset`` (Unix seconds when the window
resets). A 429 means the window is spent. The connector waits for the reset when that wait
fits its budget, and gives up with :class:`~agent_runner.errors.RateLimitedError` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from agent_runner.backoff import backoff_delay

RESET_MARGIN = 1.0
"""Seconds added after a reset time before calling again (clock skew, integer resets)."""


@dataclass(frozen=True, slots=True)
class RateWindow:
    """One endpoint's rate-limit window as X last reported it."""

    limit: int | None
    remaining: int
    reset: float
    """Unix seconds when the window resets."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long and how often a call may wait and retry.

    Args:
        max_retries: retries after the first attempt (429, 5xx, network errors).
        max_wait: most seconds one call may spend waiting, all waits together. A rate-limit
            reset further away than that raises RateLimitedError instead of waiting. The
            default covers one full 15-minute window (plus a margin).
        backoff_base: first backoff for errors without a reset time (doubles each retry).
        backoff_max: longest single backoff.
    """

    max_retries: int = 5
    max_wait: float = 960.0
    backoff_base: float = 1.0
    backoff_max: float = 60.0


def parse_window(headers: Mapping[str, str]) -> RateWindow | None:
    """Read the rate-limit headers; None when they are absent or malformed."""
    try:
        remaining = int(headers["x-rate-limit-remaining"])
        reset = float(headers["x-rate-limit-reset"])
    except (KeyError, ValueError):
        return None
    limit: int | None
    try:
        limit = int(headers["x-rate-limit-limit"])
    except (KeyError, ValueError):
        limit = None
    return RateWindow(limit=limit, remaining=remaining, reset=reset)


def wait_for_window(window: RateWindow | None, now: float) -> float:
    """Seconds to wait before calling an endpoint whose window is ``window`` (0: call now)."""
    if window is None or window.remaining > 0:
        return 0.0
    return max(0.0, window.reset + RESET_MARGIN - now)


def pace(window: RateWindow | None, now: float, interval: float) -> float:
    """Seconds until the next poll: ``interval``, stretched so the window's remaining calls
    last until its reset (a poller that never hits 429).

    Example:
        >>> pace(RateWindow(limit=180, remaining=3, reset=130.0), 100.0, 5.0)
        10.0
    """
    if window is None:
        return interval
    left = window.reset + RESET_MARGIN - now
    if left <= 0:
        return interval
    if window.remaining <= 0:
        return max(interval, left)
    return max(interval, (window.reset - now) / window.remaining)


def backoff(attempt: int, policy: RetryPolicy) -> float:
    """Exponential backoff for retry ``attempt`` (0-based), capped at ``policy.backoff_max``."""
    return backoff_delay(attempt + 1, base=policy.backoff_base, cap=policy.backoff_max)


def rate_limited_delay(reset: float | None, now: float, attempt: int, policy: RetryPolicy) -> float:
    """Seconds to wait after a 429: until the reset (plus a margin), else a backoff."""
    if reset is None:
        return backoff(attempt, policy)
    return max(0.0, reset + RESET_MARGIN - now)


def may_wait(delay: float, *, waited: float, attempt: int, policy: RetryPolicy) -> bool:
    """True when one more wait of ``delay`` and a retry stay within ``policy``."""
    return attempt < policy.max_retries and waited + delay <= policy.max_wait


def utc_day(now: float) -> str:
    """The UTC day of Unix time ``now``, ``YYYY-MM-DD`` (the daily post cap's key)."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


__all__ = [
    "RESET_MARGIN",
    "RateWindow",
    "RetryPolicy",
    "backoff",
    "may_wait",
    "pace",
    "parse_window",
    "rate_limited_delay",
    "utc_day",
    "wait_for_window",
]
