"""A second process on a shared SQLite file (run by tests/store/test_sqlite_store.py).

``race PATH N``: wait for "go" on stdin, then accept, claim, pay for and lease keys
k0..k{N-1} concurrently and print the keys this process won as JSON. ``accept-forever
PATH``: accept keys with 50 concurrent writers and print each key once ``journal_accept``
returned (until killed).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys

from agent_runner.store import MemoryItem, SQLiteStore


async def race(path: str, n: int) -> None:
    store = SQLiteStore(path)
    await store.open()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    await asyncio.to_thread(sys.stdin.readline)
    keys = [f"k{i}" for i in range(n)]
    accepted = await asyncio.gather(*(store.journal_accept(k, "c", "{}") for k in keys))
    claimed = await asyncio.gather(*(store.reply_claim(k, "out") for k in keys))
    paid = await asyncio.gather(*(store.payment_use(k, key=f"child-{k}") for k in keys))
    leased = await asyncio.gather(*(store.lease_acquire(k, "child", 60) for k in keys))
    await store.close()
    won = {
        "accepted": [k for k, ok in zip(keys, accepted, strict=True) if ok],
        "claimed": [k for k, ok in zip(keys, claimed, strict=True) if ok],
        "paid": [k for k, ok in zip(keys, paid, strict=True) if ok],
        "leased": [k for k, token in zip(keys, leased, strict=True) if token is not None],
    }
    sys.stdout.write(json.dumps(won) + "\n")
    sys.stdout.flush()


async def accept_forever(path: str) -> None:
    store = SQLiteStore(path)
    await store.open()
    counter = itertools.count()

    async def writer() -> None:
        while True:
            n = next(counter)
            key = f"k{n}"
            assert await store.journal_accept(key, "c", json.dumps({"n": n}))
            await store.memory_append("c", [MemoryItem(role="user", text=key)], keep=10_000)
            await store.cursor_set(f"cursor-{n % 5}", key)
            sys.stdout.write(key + "\n")
            sys.stdout.flush()

    await asyncio.gather(*(writer() for _ in range(50)))


if __name__ == "__main__":
    if sys.argv[1] == "race":
        asyncio.run(race(sys.argv[2], int(sys.argv[3])))
    else:
        asyncio.run(accept_forever(sys.argv[2]))
