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
import os

from agent_runner.errors import BudgetExceededError
from agent_runner.pricing import Budget, ModelPrice, Pricing
from tests.limits._replica import open_store, parser, ready, report

PRICES = {"m": ModelPrice(input_per_million=1_000_000.0, output_per_million=2_000_000.0)}


async def main(args: argparse.Namespace) -> None:
    store = await open_store(args)
    pricing = Pricing(prices=PRICES, budget=Budget(per_day=args.budget))
    await ready()

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
    report({"calls": len(made), "refused": len(costs) - len(made), "spent": sum(made)})


if __name__ == "__main__":
    arguments = parser()
    arguments.add_argument("--requests", type=int, required=True)
    arguments.add_argument("--budget", type=float, required=True)
    arguments.add_argument("--estimate", type=int, required=True)
    arguments.add_argument("--cost", type=int, required=True)
    asyncio.run(main(arguments.parse_args()))
