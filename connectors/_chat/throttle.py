"""When a streamed reply may be edited again: at most one edit per interval, slower after 429.

Pure arithmetic on an injected clock (``now`` is passed in), so streaming is tested by
moving a clock, never by sleeping::

    >>> t = EditThrottle(interval=1.0, max_interval=8.0)
    >>> t.ready(0.0)
    True
    >>> t.sent(0.0); t.ready(0.5), t.ready(1.0)
    (False, True)
    >>> t.rate_limited(1.0, retry_after=3.0); t.interval, t.ready(3.9), t.ready(4.0)
    (2.0, False, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class EditThrottle:
    """The pace of edits to one live message.

    Attributes:
        interval: the least seconds between two edits (the platform-safe pace).
        max_interval: how slow repeated 429s may make it.
    """

    interval: float
    max_interval: float = 30.0
    _next: float = field(default=float("-inf"), repr=False)

    def ready(self, now: float) -> bool:
        """True when an edit may go out at ``now``."""
        return now >= self._next

    def sent(self, now: float) -> None:
        """An edit went out at ``now``: the next waits one interval."""
        self._next = now + self.interval

    def rate_limited(self, now: float, *, retry_after: float | None) -> None:
        """The platform said 429: wait what it asked, and edit half as often from now on."""
        self.interval = min(self.max_interval, self.interval * 2)
        self._next = max(self._next, now + max(retry_after or 0.0, self.interval))

    def wait(self, now: float) -> float:
        """Seconds until an edit may go out (0 when ready)."""
        return max(0.0, self._next - now)


@dataclass(slots=True)
class LiveReply:
    """A reply being streamed into one platform message, edited as chunks arrive."""

    throttle: EditThrottle
    text: str = ""
    """Everything streamed so far."""
    shown: str = ""
    """What the platform message shows now."""
    message_id: str | None = None
    """The platform message that is edited (None until the first chunk was posted)."""
    edits: int = 0


__all__ = ["EditThrottle", "LiveReply"]
