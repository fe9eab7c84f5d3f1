"""Rate-limit arithmetic for X, as pure functions of headers and a clock.

X sends, on every API v2 response, ``x-rate-limit-limit`` (calls per window),
``x-rate-limit-remaining`` and ``x-rate-limit-reset`` (Unix seconds when the window
resets). A 429 means the window is spent. The connector waits for the reset when that wait
fits its :class:`~agent_runner.backoff.RetryPolicy`, and gives up with
:class:`~agent_runner.errors.RateLimitedError` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from agent_runner.backoff import RetryPolicy

RESET_MARGIN = 1.0
"""Seconds added after a reset time before calling again (clock skew, integer resets)."""


@dataclass(frozen=True, slots=True)
class RateWindow:
    """One endpoint's rate-limit window as X last reported it."""

    limit: int | None
    remaining: int
    reset: float
    """Unix seconds when the window resets."""


DEFAULT_RETRY = RetryPolicy(retries=5, base=1.0, cap=60.0, max_retry_after=960.0, max_total=960.0)
"""How X calls wait and retry (429, 5xx, network errors): up to 5 retries, backoffs from 1 s to
60 s, a rate-limit reset up to 960 s away (one 15-minute window plus a margin) waited for, and
at most 960 s of waiting per call, all waits together."""


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


def until_reset(reset: float | None, now: float) -> float | None:
    """Seconds from ``now`` until a 429's reset time (plus a margin); None without one."""
    if reset is None:
        return None
    return max(0.0, reset + RESET_MARGIN - now)


def utc_day(now: float) -> str:
    """The UTC day of Unix time ``now``, ``YYYY-MM-DD`` (the daily post cap's key)."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


__all__ = [
    "DEFAULT_RETRY",
    "RESET_MARGIN",
    "RateWindow",
    "pace",
    "parse_window",
    "until_reset",
    "utc_day",
    "wait_for_window",
]
