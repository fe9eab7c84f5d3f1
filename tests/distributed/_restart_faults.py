"""Redis SIGKILLed and restarted under two workers and 16 concurrent callers (issue 12).

One round: a redis-server the round starts (AOF with ``appendfsync always``, or no
persistence), two worker processes, 16 callers sending RPCs in a loop; ``kills`` times, after
a seeded delay, the server is SIGKILLed and restarted on the same port and directory after
another; the callers go on a little longer, then stop and every call they made is waited
for. The outcome of each call is counted: answered, or the name of the error it ended with.
Used by
``tests/distributed/test_redis_restart.py`` (short) and ``scripts/redis-restart-faults``
(many rounds, figures).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field

import redis.asyncio as redis

from agent_runner.core import AgentId, try_get_known_serializers_for_type
from agent_runner.distributed import DistributedAgentRuntime
from tests.distributed._servers import RedisServer
from tests.distributed._workers import Workers, lease_holders, wait_for
from tests.distributed.agents import Add, Total

CALLERS = 16
PARTITIONS = 8


@dataclass
class Round:
    """What happened to the calls of one round."""

    seed: int
    persistent: bool
    sent: int = 0
    answered: int = 0
    before_kill: int = 0
    """Calls sent (their XADD acknowledged or not) before the first kill."""
    errors: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Calls that ended with no answer."""
        return self.sent - self.answered


async def one_round(
    seed: int,
    *,
    persistent: bool = True,
    rpc_timeout: float = 30.0,
    kills: int = 1,
    after_restart: float = 0.5,
) -> Round:
    """Run one round; the server, workers and client are cleaned up before returning."""
    rng = random.Random(seed)
    outcome = Round(seed, persistent)
    server = RedisServer(persistent=persistent)
    server.start()
    prefix = f"faults-{seed}"
    workers = Workers(server.url, prefix, record=False)
    client = DistributedAgentRuntime(server.url, prefix=prefix, rpc_timeout=rpc_timeout)
    client.add_message_serializer(try_get_known_serializers_for_type(Total))
    stop = asyncio.Event()
    try:
        for name in ("w1", "w2"):
            workers.start(name, partitions=PARTITIONS)
        admin = redis.Redis.from_url(server.url)
        try:

            async def both_own() -> bool:
                holders = await lease_holders(admin, prefix, "counter", PARTITIONS)
                return set(holders) == {"w1", "w2"}

            await wait_for(both_own, within=60, what="partitions shared by w1 and w2")
        finally:
            await admin.aclose()
        calls: list[asyncio.Future[Total]] = []

        async def caller(index: int) -> None:
            seq = 0
            while not stop.is_set():
                call = asyncio.ensure_future(
                    client.send_message(Add(1, seq), AgentId("counter", f"c{index}-{seq % 3}"))
                )
                calls.append(call)
                seq += 1
                try:
                    await call
                except Exception:
                    await asyncio.sleep(0.01)  # ended with an error: counted below

        tasks = [asyncio.create_task(caller(i)) for i in range(CALLERS)]
        for _ in range(kills):
            await asyncio.sleep(rng.uniform(0.2, 0.8))
            outcome.before_kill = outcome.before_kill or len(calls)
            await asyncio.to_thread(server.kill)
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            await asyncio.to_thread(server.start)
        await asyncio.sleep(after_restart)
        stop.set()
        async with asyncio.timeout(rpc_timeout + 60):
            await asyncio.gather(*tasks)
            results = await asyncio.gather(*calls, return_exceptions=True)
        outcome.sent = len(results)
        for result in results:
            if isinstance(result, Total):
                outcome.answered += 1
            else:
                outcome.errors[type(result).__name__] += 1
                if len(outcome.examples) < 3:
                    outcome.examples.append(f"{type(result).__name__}: {result}")
        return outcome
    finally:
        stop.set()
        await client.close()
        workers.close()
        server.cleanup()


__all__ = ["CALLERS", "Round", "one_round"]
