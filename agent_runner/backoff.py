"""The one retry toolkit: capped backoff, ``Retry-After``, and when to give up.

Every retry loop in the project (the runner's output sends and input restarts, the webhook
and callback POSTs, model clients, X and the other platform connectors, the distributed
runtime's Redis calls) takes its waits from here, with one convention:

* ``attempt`` counts failures so far, from 1: ``attempt=1`` is the wait before the first
  retry, ``attempt=2`` before the second, and so on.
* a wait of ``None`` means *give up*: the retries are spent, the server asked for a wait
  longer than we allow, or the call's total waiting budget would be exceeded.

Everything is a pure function of its arguments (randomness is drawn by the caller or passed
in as ``draw``), so schedules are tested with numbers, never by sleeping::

    >>> [backoff_delay(n, base=0.5, cap=4.0) for n in range(1, 6)]
    [0.5, 1.0, 2.0, 4.0, 4.0]
    >>> policy = RetryPolicy(retries=2, base=1.0, cap=10.0)
    >>> policy.wait(1), policy.wait(2), policy.wait(3)
    (1.0, 2.0, None)
    >>> policy.wait(1, retry_after=5.0)   # the server knows best, within max_retry_after
    5.0
    >>> policy.wait(1, retry_after=60.0) is None   # longer than allowed: give up
    True
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

Jitter = Literal["none", "equal", "full"]
"""How a backoff is spread so that peers that failed together do not retry together.

``"none"``: the delay itself; ``"equal"``: uniform in ``[delay / 2, delay)``; ``"full"``:
uniform in ``[0, delay)``.
"""

RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})
"""HTTP statuses worth retrying besides every 5xx: request timeout, conflict (a concurrent
request with the same idempotency key, a lock timeout), too early, rate limited."""


def is_retryable_status(status: int) -> bool:
    """True for 408, 409, 425, 429 and every 5xx: a later attempt may succeed."""
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    jitter: Jitter = "none",
    draw: float | None = None,
) -> float:
    """The wait before retry number ``attempt``: ``min(cap, base * 2 ** (attempt - 1))``.

    Args:
        attempt: failures so far (>= 1).
        base: the first delay, in seconds (>= 0).
        cap: the longest delay, in seconds (>= 0).
        jitter: how to spread the delay (see :data:`Jitter`).
        draw: a number in ``[0, 1)`` for the jitter; ``None`` draws one with
            :func:`random.random`. Ignored without jitter.

    Raises:
        ValueError: for an attempt below 1, a negative base or cap, or a draw outside [0, 1).

    Example:
        >>> backoff_delay(3, base=1.0, cap=10.0, jitter="equal", draw=0.5)
        3.0
        >>> backoff_delay(3, base=1.0, cap=10.0, jitter="full", draw=0.25)
        1.0
    """
    if attempt < 1:
        raise ValueError(f"attempt counts failures from 1, not {attempt}")
    if base < 0 or cap < 0:
        raise ValueError("base and cap must be >= 0")
    # 2.0 ** 1100 overflows a float; 2 ** 64 times any sane base is past any sane cap.
    delay = min(cap, base * 2.0 ** min(attempt - 1, 64))
    if jitter == "none":
        return delay
    if draw is None:
        draw = random.random()
    if not 0.0 <= draw < 1.0:
        raise ValueError(f"draw must be in [0, 1), not {draw}")
    if jitter == "equal":
        return delay / 2 + delay / 2 * draw
    return delay * draw


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one kind of call retries: how often, how long each wait, how long in all.

    Attributes:
        retries: retries after the first attempt (0: never retry).
        base: the first backoff, in seconds; doubled on each retry.
        cap: the longest single backoff, in seconds.
        jitter: how backoffs are spread (``"none"``, ``"equal"`` or ``"full"``).
        max_retry_after: the longest wait a server may ask for (``Retry-After``, a rate-limit
            reset) that is honoured; a longer one gives up at once rather than waiting that
            long or retrying too early. ``None``: the same as ``cap``.
        max_total: the most seconds one call may spend waiting, all waits together
            (``None``: no limit beyond ``retries``).

    Example:
        >>> RetryPolicy(retries=5, base=1.0, cap=60.0, max_total=2.5).wait(2, waited=1.0)
        >>> RetryPolicy(retries=5, base=1.0, cap=60.0, max_total=3.5).wait(2, waited=1.0)
        2.0
    """

    retries: int = 3
    base: float = 0.5
    cap: float = 30.0
    jitter: Jitter = "none"
    max_retry_after: float | None = None
    max_total: float | None = None

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, not {self.retries}")
        if self.base < 0 or self.cap < 0:
            raise ValueError("base and cap must be >= 0")
        if self.max_retry_after is not None and self.max_retry_after < 0:
            raise ValueError("max_retry_after must be >= 0")
        if self.max_total is not None and self.max_total < 0:
            raise ValueError("max_total must be >= 0")

    def backoff(self, attempt: int, *, draw: float | None = None) -> float:
        """The backoff before retry ``attempt`` under this policy (no give-up rules)."""
        return backoff_delay(attempt, base=self.base, cap=self.cap, jitter=self.jitter, draw=draw)

    def wait(
        self,
        attempt: int,
        *,
        retry_after: float | None = None,
        waited: float = 0.0,
        draw: float | None = None,
    ) -> float | None:
        """Seconds to wait before retry ``attempt``, or ``None`` to give up.

        Args:
            attempt: failures so far (>= 1).
            retry_after: seconds the server asked us to wait, if it did (used as is, not
                jittered, when within ``max_retry_after``).
            waited: seconds this call already spent waiting (for ``max_total``).
            draw: the jitter draw (see :func:`backoff_delay`).
        """
        if attempt > self.retries:
            return None
        if retry_after is not None and math.isfinite(retry_after):
            limit = self.cap if self.max_retry_after is None else self.max_retry_after
            if retry_after > limit:
                return None
            delay = max(0.0, retry_after)
        else:
            delay = self.backoff(attempt, draw=draw)
        if self.max_total is not None and waited + delay > self.max_total:
            return None
        return delay


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from one ``Retry-After`` value (delta-seconds or an HTTP date).

    Args:
        value: the header's value, or None when it was absent.
        now: the current Unix time, for the HTTP-date form (default: the clock).

    Returns:
        Seconds (never negative), or None when absent or unreadable.

    Example:
        >>> parse_retry_after("2.5")
        2.5
        >>> parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now=1445412480.0)
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
        current = time.time() if now is None else now
        seconds = (when - datetime.fromtimestamp(current, UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def retry_after_from_headers(
    headers: Mapping[str, str], *, now: float | None = None
) -> float | None:
    """Seconds to wait from response headers: ``retry-after-ms``, else ``Retry-After``.

    Header names match in any case. Returns None when neither is present or readable.

    Example:
        >>> retry_after_from_headers({"Retry-After-Ms": "1500"})
        1.5
        >>> retry_after_from_headers({"retry-after": "3"})
        3.0
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis.strip())
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return max(0.0, value / 1000.0)
    return parse_retry_after(lowered.get("retry-after"), now=now)


__all__ = [
    "RETRYABLE_STATUSES",
    "Jitter",
    "RetryPolicy",
    "backoff_delay",
    "is_retryable_status",
    "parse_retry_after",
    "retry_after_from_headers",
]
