"""A replica of an X bot posting against one daily cap (run by tests/limits/test_x_cap.py).

``python -m tests.limits.x_app (--redis URL --prefix P | --db PATH) --posts N --cap C``, with
the fake X's ``X_*`` variables in the environment: opens an XConnector (tweepy against the
fake), prints READY, waits for a line on stdin, then posts N tweets concurrently. Prints the
JSON summary ``{"posted": ..., "capped": ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from agent_runner.distributed import RedisStore
from agent_runner.store import SQLiteStore, Store
from connectors.x import DailyPostCapError, XConnector


async def main(args: argparse.Namespace) -> None:
    store: Store = (
        RedisStore(args.redis, prefix=args.prefix) if args.redis else SQLiteStore(args.db)
    )
    await store.open()
    x = XConnector.from_env(daily_post_cap=args.cap)
    x.bind_store(store)
    async with x:
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        await asyncio.to_thread(sys.stdin.readline)

        async def post(n: int) -> bool:
            try:
                await x.post(f"replica {os.getpid()} tweet {n}")
            except DailyPostCapError:
                return False
            return True

        posted = await asyncio.gather(*(post(n) for n in range(args.posts)))
    await store.close()
    summary = {"posted": sum(posted), "capped": len(posted) - sum(posted)}
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis")
    parser.add_argument("--prefix", default="agent-runner")
    parser.add_argument("--db")
    parser.add_argument("--posts", type=int, required=True)
    parser.add_argument("--cap", type=int, required=True)
    asyncio.run(main(parser.parse_args()))
