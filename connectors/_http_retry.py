"""Retry policy for outgoing HTTP (webhook delivery): backoff, Retry-After, what is transient.

Pure functions, so the schedule is tested with numbers: :func:`backoff_delay` is capped
exponential backoff with full jitter (the random source is injected), and
:func:`parse_retry_after` reads both forms of the ``Retry-After`` header.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Statuses worth retrying: the receiver is overloaded, rate limiting or failed transiently."""


def backoff_delay(
    attempt: int,
    *,
    base: float = 0.5,
    cap: float = 30.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry).

    Full jitter: a uniform draw in ``[0, min(cap, base * 2**attempt)]``, so many senders that
    failed together do not retry together.

    Example:
        >>> backoff_delay(3, base=0.5, cap=30.0, rand=lambda: 1.0)
        4.0
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    ceiling = cap if attempt >= 64 else min(cap, base * (2.0**attempt))
    return max(0.0, ceiling * min(1.0, max(0.0, rand())))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date).

    Returns None when the header is absent or unreadable; never negative.

    Example:
        >>> parse_retry_after("2.5")
        2.5
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def retry_wait(
    attempt: int,
    retry_after: float | None,
    *,
    base: float,
    cap: float,
    max_retry_after: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """The wait before the next attempt: the server's Retry-After (capped) or our backoff."""
    if retry_after is not None:
        return min(retry_after, max_retry_after)
    return backoff_delay(attempt, base=base, cap=cap, rand=rand)


__all__ = ["RETRY_STATUSES", "backoff_delay", "parse_retry_after", "retry_wait"]
