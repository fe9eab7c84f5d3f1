"""The floor of durable ingest: one journal write at a time, ours vs raw sqlite3.

The runner's sink returns once ``Store.journal_accept`` committed, so an input that awaits
each push can go no faster than one commit after another. This measures that floor, in one
run, for ``synchronous=FULL`` (fsync per commit, the default) and ``NORMAL``:

- ``raw inline``: ``sqlite3`` with the store's pragmas (WAL), ``BEGIN IMMEDIATE; INSERT;
  COMMIT`` on the calling thread (blocking: the floor, not something to ship);
- ``raw executor``: the same transaction through ``loop.run_in_executor`` on one thread (the
  cost of the hop without our queueing);
- ``bare hop``: ``run_in_executor`` of a function that does nothing (the hop alone);
- ``SQLiteStore sequential``: ``await store.journal_accept(...)`` one after another;
- ``SQLiteStore x64``: 64 concurrent writers (group commit shares transactions).

Usage: ``python bench/bench_store.py [--quick] [--writes N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agent_runner.store import SQLiteStore

PAYLOAD = '{"id":"%s","conversation_id":"conv-1","source":"http","text":"hello"}' + " " * 200


def connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("CREATE TABLE IF NOT EXISTS journal (key TEXT PRIMARY KEY, payload TEXT)")
    return conn


def insert(conn: sqlite3.Connection, key: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT OR IGNORE INTO journal VALUES (?, ?)", (key, PAYLOAD % key))
    conn.execute("COMMIT")


async def timed(writes: int, body: Callable[[int], Awaitable[None]]) -> tuple[float, float]:
    """Seconds and CPU seconds (all threads) of ``body(i)`` for each i, one after another."""
    began, cpu = time.perf_counter(), time.process_time()
    for i in range(writes):
        await body(i)
    return time.perf_counter() - began, time.process_time() - cpu


async def measure(case: str, tmp: Path, synchronous: str, writes: int) -> tuple[float, float]:
    path = tmp / f"{case.replace(' ', '-')}-{synchronous}-{time.monotonic_ns()}.sqlite3"
    loop = asyncio.get_running_loop()
    if case.startswith(("raw", "bare")):
        conn = connect(path, synchronous)
        executor = ThreadPoolExecutor(max_workers=1)
        try:
            if case == "raw inline":

                async def body(i: int) -> None:
                    insert(conn, f"k{i}")

            elif case == "raw executor":

                async def body(i: int) -> None:
                    await loop.run_in_executor(executor, insert, conn, f"k{i}")

            else:

                async def body(i: int) -> None:
                    await loop.run_in_executor(executor, int)

            return await timed(writes, body)
        finally:
            executor.shutdown()
            conn.close()
    store = SQLiteStore(path, synchronous=synchronous)  # type: ignore[arg-type]
    await store.open()
    try:
        if case == "SQLiteStore sequential":

            async def accept(i: int) -> None:
                await store.journal_accept(f"k{i}", "conv-1", PAYLOAD % i)

            return await timed(writes, accept)
        began, cpu = time.perf_counter(), time.process_time()

        async def writer(w: int) -> None:
            for i in range(w, writes, 64):
                await store.journal_accept(f"k{i}", f"conv-{w}", PAYLOAD % i)

        await asyncio.gather(*(writer(w) for w in range(64)))
        return time.perf_counter() - began, time.process_time() - cpu
    finally:
        await store.close()


CASES = ["raw inline", "raw executor", "bare hop", "SQLiteStore sequential", "SQLiteStore x64"]


async def main(args: argparse.Namespace) -> None:
    load = os.getloadavg()
    print(
        f"{args.writes:,} journal writes per case, median of {args.repeat} interleaved "
        f"round(s); load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for synchronous in ("FULL", "NORMAL"):
            runs: dict[str, list[tuple[float, float]]] = {case: [] for case in CASES}
            for n in range(args.repeat):
                for case in CASES if n % 2 == 0 else CASES[::-1]:
                    runs[case].append(await measure(case, Path(tmp), synchronous, args.writes))
            print(f"synchronous={synchronous}")
            print(f"  {'case':<26} {'writes/s':>9} {'wall us':>8} {'CPU us':>7}")
            wall = {c: statistics.median(w for w, _ in r) / args.writes for c, r in runs.items()}
            for case, r in runs.items():
                cpu = statistics.median(c for _, c in r) / args.writes
                print(
                    f"  {case:<26} {1 / wall[case]:>9,.0f} {wall[case] * 1e6:>8,.0f} "
                    f"{cpu * 1e6:>7,.0f}"
                )
            ours = wall["SQLiteStore sequential"]
            print(
                f"  SQLiteStore sequential / raw executor: {wall['raw executor'] / ours:.2f}; "
                f"/ raw inline: {wall['raw inline'] / ours:.2f} (throughput ratios)"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer writes (a smoke run)")
    parser.add_argument("--writes", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parsed = parser.parse_args()
    if parsed.quick:
        parsed.writes, parsed.repeat = 300, 1
    asyncio.run(main(parsed))
