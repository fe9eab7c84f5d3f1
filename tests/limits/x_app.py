"""A replica of an X bot posting against one daily cap (run by tests/limits/test_x_cap.py).

``python -m tests.limits.x_app (--redis URL --prefix P | --db PATH) --posts N --cap C``, with
the fake X's ``X_*`` variables in the environment: opens an XConnector (tweepy against the
fake), prints READY, waits for a line on stdin, then posts N tweets concurrently. Prints the
JSON summary ``{"posted": ..., "capped": ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from connectors.x import DailyPostCapError, XConnector
from tests.limits._replica import open_store, parser, ready, report


async def main(args: argparse.Namespace) -> None:
    store = await open_store(args)
    x = XConnector.from_env(daily_post_cap=args.cap)
    x.bind_store(store)
    async with x:
        await ready()

        async def post(n: int) -> bool:
            try:
                await x.post(f"replica {os.getpid()} tweet {n}")
            except DailyPostCapError:
                return False
            return True

        posted = await asyncio.gather(*(post(n) for n in range(args.posts)))
    await store.close()
    report({"posted": sum(posted), "capped": len(posted) - sum(posted)})


if __name__ == "__main__":
    arguments = parser()
    arguments.add_argument("--posts", type=int, required=True)
    arguments.add_argument("--cap", type=int, required=True)
    asyncio.run(main(arguments.parse_args()))
