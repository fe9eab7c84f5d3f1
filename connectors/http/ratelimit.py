"""Per-client rate limiting: a token bucket as a pure function, and a bounded table of buckets.

A bucket holds up to ``capacity`` tokens and refills at ``rate`` tokens per second; each
request takes one. :func:`take` computes the new state from the old one and the time, so
tests drive it with plain numbers instead of sleeping.

The buckets are per process. When the connector's store is shared across hosts (Redis),
:class:`SharedWindow` also counts each client's requests per minute in the store's shared
counters, so replicas behind a load balancer together allow ``per_minute``, not N times it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from agent_runner.errors import StoreError
from agent_runner.store import SharedCounters

log = logging.getLogger("connectors.http")


class Bucket(NamedTuple):
    """A bucket's state: ``tokens`` left at time ``updated`` (seconds, any monotonic clock)."""

    tokens: float
    updated: float


def take(
    bucket: Bucket | None, *, now: float, rate: float, capacity: float, cost: float = 1.0
) -> tuple[Bucket, float]:
    """Try to take ``cost`` tokens at time ``now``.

    Returns:
        The new state and the seconds to wait before the request would be allowed
        (``0.0`` when it is allowed now, in which case the tokens were taken).

    Example:
        >>> state, wait = take(None, now=0.0, rate=1.0, capacity=2.0)
        >>> wait, state.tokens
        (0.0, 1.0)
    """
    if bucket is None:
        tokens = capacity
    else:
        elapsed = max(0.0, now - bucket.updated)
        tokens = min(capacity, bucket.tokens + elapsed * rate)
    if tokens >= cost:
        return Bucket(tokens - cost, now), 0.0
    if rate <= 0:
        return Bucket(tokens, now), math.inf
    return Bucket(tokens, now), (cost - tokens) / rate


class RateLimiter:
    """Token buckets per client, at most ``max_clients`` of them (least recently seen evicted).

    Args:
        per_minute: requests per minute each client may make on average.
        burst: how many requests a client may make at once (default: ``per_minute``).
        clock: the time source, seconds (injected in tests).
        max_clients: the most buckets kept; an evicted client starts with a full bucket.

    Example:
        >>> limiter = RateLimiter(per_minute=60, burst=1, clock=lambda: 0.0)
        >>> limiter.hit("10.0.0.1"), limiter.hit("10.0.0.1")
        (0.0, 1.0)
    """

    def __init__(
        self,
        *,
        per_minute: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else max(1.0, per_minute))
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def hit(self, client: str) -> float:
        """Count one request of ``client``; return 0.0 if allowed, else seconds to wait."""
        state, wait = take(
            self._buckets.get(client), now=self._clock(), rate=self.rate, capacity=self.capacity
        )
        self._buckets[client] = state
        self._buckets.move_to_end(client)
        while len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)


class SharedWindow:
    """Requests per client per fixed minute, counted in shared counters (every replica).

    Args:
        counters: the store's shared counters.
        per_minute: requests each client may make per minute across all replicas.
        name: the connector's name (keeps two connectors' counts apart).
        clock: Unix time (the minute's number comes from it).
        timeout: seconds to wait for the store; slower, or failing, it lets the request
            through (the replica's own bucket still applies) and logs a warning.
    """

    def __init__(
        self,
        counters: SharedCounters,
        *,
        per_minute: float,
        name: str,
        clock: Callable[[], float] = time.time,
        timeout: float = 1.0,
    ) -> None:
        self._counters = counters
        self.limit = math.floor(per_minute)
        self._name = name
        self._clock = clock
        self._timeout = timeout

    async def hit(self, client: str) -> float:
        """Count one request of ``client``; 0.0 if allowed, else seconds to the next minute."""
        now = self._clock()
        minute = math.floor(now / 60)
        rest = (minute + 1) * 60 - now
        counter = f"http:{self._name}:rate:{minute}:{client}"
        try:
            async with asyncio.timeout(self._timeout):
                refused = await self._counters.take({counter: self.limit}, 1, expires_in=rest + 1)
        except (StoreError, TimeoutError) as exc:
            log.warning("http: shared rate limit unavailable, this replica's applies: %r", exc)
            return 0.0
        return 0.0 if refused is None else rest


__all__ = ["Bucket", "RateLimiter", "SharedWindow", "take"]
