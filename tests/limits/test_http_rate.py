"""The HTTP rate limit on a store shared across hosts (Redis) counts every replica: two
replicas behind a load balancer together let a client make `per_minute` requests, not
twice that; the next minute starts again."""

from __future__ import annotations

import aiohttp

from agent_runner.distributed import RedisStore
from connectors.http import HTTPConnector
from tests.connectors._web_fixtures import Recorder, running


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # the start of a minute

    def __call__(self) -> float:
        return self.now


async def test_two_replicas_share_one_rate_limit_on_redis(
    redis_url: str, redis_prefix: str
) -> None:
    clock = Clock()
    replicas = [
        HTTPConnector(port=0, rate_limit_per_minute=5, rate_limit_burst=100, clock=clock)
        for _ in range(2)
    ]
    statuses: list[int] = []
    async with (
        running(
            [replicas[0]],
            [replicas[0]],
            Recorder(),
            store=RedisStore(redis_url, prefix=redis_prefix),
        ),
        running(
            [replicas[1]],
            [replicas[1]],
            Recorder(),
            store=RedisStore(redis_url, prefix=redis_prefix),
        ),
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client,
    ):

        async def post(http: HTTPConnector, text: str) -> aiohttp.ClientResponse:
            async with client.post(f"{http.url}/v1/messages", json={"text": text}) as resp:
                await resp.read()
                return resp

        for n in range(4):  # a load balancer alternating between the replicas
            for http in replicas:
                statuses.append((await post(http, f"{n}")).status)
        refused = await post(replicas[1], "over")
        assert refused.status == 429 and refused.headers["Retry-After"] == "60"
        clock.now += 60  # the next minute
        assert (await post(replicas[0], "again")).status == 200
    assert statuses.count(200) == 5 and statuses.count(429) == 3
