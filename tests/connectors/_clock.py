"""A clock that moves only when told, for streaming intervals asserted without sleeping."""

from __future__ import annotations


class ManualClock:
    """``clock()`` returns :attr:`now`; :meth:`advance` moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
