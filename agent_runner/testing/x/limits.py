"""The fake X's rate limits: a 15-minute window per endpoint, and failures forced by tests.

Every answer carries the endpoint's window as X sends it (``x-rate-limit-limit``,
``x-rate-limit-remaining``, ``x-rate-limit-reset``); a spent window answers 429 until it
resets. Tests force 429s or server errors on the next requests with :meth:`RateLimits.force`
(``FakeX.rate_limit_next``, ``FakeX.fail_next``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

WINDOW_SECONDS = 900.0
"""X's rate-limit window: 15 minutes."""
X_LIMITS: Mapping[str, int] = {
    "users_me": 75,
    "users_id": 300,
    "mentions": 180,
    "create_tweet": 200,
    "user_tweets": 900,
}
"""X's own calls per 15-minute window per endpoint (user context), for realistic tests."""
DEFAULT_LIMITS: Mapping[str, int] = dict.fromkeys(X_LIMITS, 100_000)
"""The fake's default: generous, so a connector that paces its polls to the window
(as :class:`connectors.x.XConnector` does) still polls fast in tests."""


@dataclass(slots=True)
class Window:
    """One endpoint's window: calls allowed, calls left, Unix time of the reset."""

    limit: int
    remaining: int
    reset: float


@dataclass(slots=True)
class Forced:
    """The next ``count`` requests (to ``endpoint``, or any) answer ``status``."""

    count: int
    status: int
    reset_in: float
    endpoint: str | None


class RateLimits:
    """Windows per endpoint and the failures tests asked for.

    Args:
        limits: calls per window per endpoint (missing endpoints: 100,000).
        clock: Unix time source.
    """

    def __init__(
        self, limits: Mapping[str, int], *, clock: Callable[[], float] = time.time
    ) -> None:
        self._limits = dict(limits)
        self._clock = clock
        self._windows: dict[str, Window] = {}
        self._forced: list[Forced] = []

    def window(self, endpoint: str) -> Window:
        """The endpoint's current window (a new, full one after the reset)."""
        now = self._clock()
        window = self._windows.get(endpoint)
        if window is None or window.reset <= now:
            limit = self._limits.get(endpoint, 100_000)
            window = Window(limit, limit, float(int(now + WINDOW_SECONDS)))
            self._windows[endpoint] = window
        return window

    def force(self, count: int, status: int, *, reset_in: float, endpoint: str | None) -> None:
        """Answer the next ``count`` requests (to ``endpoint`` if given) with ``status``."""
        self._forced.append(Forced(count, status, reset_in, endpoint))

    def take_forced(self, endpoint: str) -> Forced | None:
        """The forced failure this request to ``endpoint`` gets, if any (and count it)."""
        for forced in self._forced:
            if forced.endpoint in (None, endpoint):
                forced.count -= 1
                if forced.count <= 0:
                    self._forced.remove(forced)
                return forced
        return None


__all__ = ["DEFAULT_LIMITS", "WINDOW_SECONDS", "X_LIMITS", "Forced", "RateLimits", "Window"]
