"""A replica spending against one shared budget (run by tests/limits/test_shared_budget.py).

``python -m tests.limits.app (--redis URL --prefix P | --db PATH) --requests N --budget B
--estimate E --cost C``: prints READY, waits for a line on stdin, then makes N concurrent
metered calls of model ``m`` (one input token costs 1.0) against a daily budget of B: each
checks an estimate of E, then records a cost of C. Prints the JSON summary
``{"calls": ..., "refused": ..., "spent": ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from agent_runner.distributed import RedisStore
from agent_runner.errors import BudgetExceededError
from agent_runner.pricing import Budget, ModelPrice, Pricing
from agent_runner.store import SQLiteStore, Store

PRICES = {"m": ModelPrice(input_per_million=1_000_000.0, output_per_million=2_000_000.0)}


async def main(args: argparse.Namespace) -> None:
    store: Store = (
        RedisStore(args.redis, prefix=args.prefix) if args.redis else SQLiteStore(args.db)
    )
    await store.open()
    pricing = Pricing(prices=PRICES, budget=Budget(per_day=args.budget))
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    await asyncio.to_thread(sys.stdin.readline)

    async def call(n: int) -> float | None:
        meter = pricing.meter(store, request_key=f"{os.getpid()}-{n}", conversation_key=f"c{n}")
        try:
            await meter.check("m", input_tokens=args.estimate)
        except BudgetExceededError:
            return None
        await asyncio.sleep(0)  # the model call
        return await meter.record("m", input_tokens=args.cost, output_tokens=0)

    costs = await asyncio.gather(*(call(n) for n in range(args.requests)))
    await store.close()
    made = [cost for cost in costs if cost is not None]
    summary = {"calls": len(made), "refused": len(costs) - len(made), "spent": sum(made)}
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis")
    parser.add_argument("--prefix", default="agent-runner")
    parser.add_argument("--db")
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--budget", type=float, required=True)
    parser.add_argument("--estimate", type=int, required=True)
    parser.add_argument("--cost", type=int, required=True)
    asyncio.run(main(parser.parse_args()))
