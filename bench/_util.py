"""Small helpers shared by the benchmarks: timing, memory, and a plain-text table."""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from typing import Any


def run(coro_factory: Callable[[], Awaitable[Any]]) -> Any:
    """Run one coroutine in a fresh event loop (each measurement starts clean)."""

    async def main() -> Any:
        return await coro_factory()

    return asyncio.run(main())


def best_seconds(workload: Callable[[], Awaitable[Stopwatch]], repeats: int) -> Stopwatch:
    """The smallest wall-clock and the smallest CPU time of ``repeats`` runs; ``workload``
    returns the :class:`Stopwatch` of its measured part."""
    best = Stopwatch()
    best.seconds = best.cpu_seconds = float("inf")
    for _ in range(repeats):
        gc.collect()
        best.keep_best(run(workload))
    return best


class Stopwatch:
    """``with`` timer: ``.seconds`` (wall clock) and ``.cpu_seconds`` (this process's CPU,
    every thread) after the block. CPU stays comparable when other work loads the machine."""

    def __init__(self) -> None:
        self.seconds = self.cpu_seconds = 0.0
        self._start = self._cpu_start = 0.0

    def __enter__(self) -> Stopwatch:
        self._start, self._cpu_start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start
        self.cpu_seconds = time.process_time() - self._cpu_start

    def keep_best(self, other: Stopwatch) -> None:
        """Keep the smaller of each figure."""
        self.seconds = min(self.seconds, other.seconds)
        self.cpu_seconds = min(self.cpu_seconds, other.cpu_seconds)


async def traced_bytes(work: Callable[[], Awaitable[Any]], count: int) -> float:
    """Bytes still allocated after ``work()`` (whose result is kept alive), per item.

    Uses tracemalloc; the result of ``work`` (e.g. the runtime holding the agents) is held
    while measuring, then released.
    """
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        keep = await work()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del keep
    return (after - before) / count


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A left-aligned text table."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def rate(count: int, seconds: float) -> str:
    """Messages per second, rounded."""
    return f"{count / seconds:,.0f}" if seconds > 0 else "-"


def ratio(ours: float | None, other: float | None) -> str:
    """``ours / other`` as ``0.53`` (or ``-`` when a side is missing)."""
    if ours is None or other is None or other == 0:
        return "-"
    return f"{ours / other:.2f}"


def py_spy() -> str | None:
    """The ``py-spy`` executable: beside this Python (a venv's ``bin``) or on ``PATH``."""
    import shutil
    import sys
    from pathlib import Path

    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.is_file() else shutil.which("py-spy")
