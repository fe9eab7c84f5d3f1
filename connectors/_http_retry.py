"""Retry policy for outgoing HTTP (webhook delivery): backoff, Retry-After, what is transient.

Pure functions, so the schedule is tested with numbers: :func:`backoff_delay` is capped
exponential backoff with full jitter (the random source is injected), and
:func:`parse_retry_after` (from :mod:`agent_runner.backoff`) reads both forms of the
``Retry-After`` header.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from agent_runner.backoff import backoff_delay as _capped_delay
from agent_runner.backoff import parse_retry_after

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
    ceiling = _capped_delay(attempt + 1, base=base, cap=cap)
    return max(0.0, ceiling * min(1.0, max(0.0, rand())))


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
