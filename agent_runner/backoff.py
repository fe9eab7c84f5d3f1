"""Capped exponential backoff and ``Retry-After``, as pure functions (no sleeping, no randomness
inside). The runner, the connectors and the model clients all retry with these.

The runner retries a failing output send and restarts a crashed input with these delays::

    >>> [backoff_delay(n, base=0.5, cap=4.0) for n in range(1, 6)]
    [0.5, 1.0, 2.0, 4.0, 4.0]

Jitter is opt-in and injected (``jitter`` is a number in ``[0, 1)`` the caller draws), so the
function stays deterministic under test.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def backoff_delay(attempt: int, *, base: float, cap: float, jitter: float | None = None) -> float:
    """The wait before retry number ``attempt`` (1 for the first retry).

    Args:
        attempt: how many failures happened so far (>= 1).
        base: the first delay, in seconds (>= 0).
        cap: the longest delay, in seconds (>= 0).
        jitter: a number in ``[0, 1)``; when given, the delay is scaled into
            ``[delay / 2, delay)`` ("equal jitter") so retrying peers spread out.

    Returns:
        ``min(cap, base * 2 ** (attempt - 1))``, jittered when asked.

    Raises:
        ValueError: for a negative base or cap, an attempt below 1 or a jitter outside [0, 1).
    """
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, not {attempt}")
    if base < 0 or cap < 0:
        raise ValueError("base and cap must be >= 0")
    # 2.0 ** 1100 overflows a float; 2 ** 64 times any sane base is past any sane cap.
    delay = min(cap, base * 2.0 ** min(attempt - 1, 64))
    if jitter is None:
        return delay
    if not 0.0 <= jitter < 1.0:
        raise ValueError(f"jitter must be in [0, 1), not {jitter}")
    return delay / 2 + delay / 2 * jitter


def retry_wait(
    attempt: int, *, base: float, cap: float, retry_after: float | None = None
) -> float | None:
    """The wait before retry ``attempt``, honouring a server's ``retry_after`` hint.

    Returns ``None`` when ``retry_after`` is longer than ``cap``: waiting that long is not
    allowed, so the caller gives up instead of retrying.

    >>> retry_wait(1, base=0.5, cap=10.0, retry_after=3.0)
    3.0
    >>> retry_wait(1, base=0.5, cap=10.0, retry_after=60.0) is None
    True
    """
    delay = backoff_delay(attempt, base=base, cap=cap)
    if retry_after is None:
        return delay
    if retry_after > cap:
        return None
    return max(delay, retry_after)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date).

    Returns None when the value is absent or unreadable; never negative.

    Example:
        >>> parse_retry_after("2.5")
        2.5
        >>> parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT",
        ...                   now=datetime(2015, 10, 21, 7, 28, tzinfo=UTC))
        5.0
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


__all__ = ["backoff_delay", "parse_retry_after", "retry_wait"]
