"""Benchmark long-term memory recall: ``python bench/bench_memory.py [--quick]``.

For N records in one scope (vectors of 512 dimensions, as HashingEmbedder makes), the time
of one search on each backend, warm (the scope's matrix cached: one version read, then a
matrix-vector product) and cold (the scope changed since the last search: the matrix is
reloaded), and of a whole ``LongTermMemory.recall`` (embedding the query included). The
baselines, measured in the same run on the same vectors: numpy's product on an in-memory
matrix (the floor) and an exact scan in pure Python (the no-numpy alternative). Redis is
127.0.0.1:6379 or ``REDIS_URL``; it is skipped when none answers.
"""

from __future__ import annotations

import asyncio
import operator
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from array import array
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent_runner.memory import (  # noqa: E402
    HashingEmbedder,
    LongTermMemory,
    MemoryBackend,
    MemoryRecord,
    RedisMemoryStore,
    SQLiteMemoryStore,
)

DIM = 512
SCOPE = "user:bench:ada"


def vectors(n: int) -> np.ndarray:
    rows = np.random.default_rng(1).standard_normal((n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def timed(call: Callable[[], Awaitable[object]], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return p50_ms(samples)


async def fill(backend: MemoryBackend, rows: np.ndarray) -> None:
    for n, row in enumerate(rows):
        record = MemoryRecord(id=f"r{n}", scope=SCOPE, text=f"fact {n}", created_at=float(n))
        await backend.add(record, row.tobytes(), max_items=None, since=None)


async def measure(name: str, backend: MemoryBackend, rows: np.ndarray, repeats: int) -> None:
    await backend.open()
    try:
        await fill(backend, rows)
        query = rows[7].tobytes()
        await backend.search(SCOPE, query, 5, since=None)
        warm = await timed(lambda: backend.search(SCOPE, query, 5, since=None), repeats)

        async def cold() -> None:
            await backend.delete(SCOPE, "missing")  # bumps the version: the next search reloads
            await backend.search(SCOPE, query, 5, since=None)

        cold_ms = await timed(cold, max(3, repeats // 10))
        memory = LongTermMemory(backend, HashingEmbedder(dimensions=DIM), min_score=-1)
        recall = await timed(lambda: memory.recall("fact about tea", [SCOPE], k=5), repeats)
        print(
            f"  {name:<7} search warm {warm:7.2f} ms | cold (reload) {cold_ms:8.2f} ms"
            f" | recall warm {recall:7.2f} ms"
        )
    finally:
        await backend.forget_scope(SCOPE)
        await backend.close()


def redis_url() -> str | None:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return None
    return url


async def main() -> None:
    quick = "--quick" in sys.argv
    repeats = 50 if quick else 200
    sizes = [1_000] if quick else [1_000, 10_000]
    loadable = hasattr(sqlite3.connect(":memory:"), "enable_load_extension")
    print(f"sqlite3 can load extensions (sqlite-vec) in this Python: {loadable}")
    url = redis_url()
    for n in sizes:
        rows = vectors(n)
        floor = p50_ms([_clock(numpy_scan, rows) for _ in range(repeats)])
        python = p50_ms([_clock(python_scan, rows) for _ in range(5)])
        print(f"N={n:,} records in one scope, {DIM} dims:")
        print(f"  baseline: numpy on a cached matrix {floor:.3f} ms | pure Python {python:.1f} ms")
        with tempfile.TemporaryDirectory() as folder:
            await measure("sqlite", SQLiteMemoryStore(Path(folder) / "m.db"), rows, repeats)
        if url:
            await measure("redis", RedisMemoryStore(url, prefix="bench-memory"), rows, repeats)
        else:
            print("  redis: no server answered (set REDIS_URL)")


def numpy_scan(rows: np.ndarray) -> object:
    return np.argpartition(-(rows @ rows[7]), 5)[:5]


def python_scan(rows: np.ndarray) -> object:
    q = array("f", rows[7].tobytes())
    listed = [array("f", row.tobytes()) for row in rows]
    start = time.perf_counter()
    scores = [sum(map(operator.mul, v, q)) for v in listed]
    return time.perf_counter() - start, scores


def _clock(work: Callable[[np.ndarray], object], rows: np.ndarray) -> float:
    start = time.perf_counter()
    result = work(rows)
    if isinstance(result, tuple):  # the scan timed itself (without building its lists)
        return float(result[0])
    return time.perf_counter() - start


if __name__ == "__main__":
    asyncio.run(main())
