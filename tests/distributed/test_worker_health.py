"""A worker's /readyz goes red when its read loop cannot read (Redis restarted without
persistence under it) or loses its consumer group (XGROUP DESTROY), and green again once
it reads again: a real redis-server of the test's own, a real `agent-runner worker`."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis.asyncio as redis

from agent_runner.distributed._wire import GROUP
from tests.distributed._servers import RedisServer
from tests.distributed._workers import Workers, lease_holders, wait_for
from tests.observability.support import free_port, get

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def server() -> Iterator[RedisServer]:
    made = RedisServer()  # no persistence: a restart loses the streams and groups
    made.start()
    yield made
    made.cleanup()


async def readyz(url: str) -> tuple[int, list[dict[str, Any]]]:
    try:
        status, body = await get(f"{url}/readyz")
    except OSError:
        return 0, []
    return status, json.loads(body)["reasons"]


async def until(url: str, wanted: Callable[[int, list[dict[str, Any]]], bool]) -> None:
    async with asyncio.timeout(45):
        while True:
            if wanted(*await readyz(url)):
                return
            await asyncio.sleep(0.1)


def red(words: str) -> Callable[[int, list[dict[str, Any]]], bool]:
    def check(status: int, reasons: list[dict[str, Any]]) -> bool:
        return status == 503 and any(
            r["check"] == "distributed" and words in r["detail"] for r in reasons
        )

    return check


def green(status: int, reasons: list[dict[str, Any]]) -> bool:
    return status == 200


async def test_redis_restarts_and_lost_groups_turn_a_worker_red_then_green(
    server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    workers = Workers(server.url, prefix, "tests.distributed.runner_app", record=False)
    monkeypatch.setenv("AGENT_RUNNER_ADMIN_PORT", str(port))
    try:
        workers.start("w1", partitions=2)
        admin = redis.Redis.from_url(server.url)
        try:

            async def hosted() -> bool:
                holders = await lease_holders(admin, prefix, "agent_runner.conversation", 2)
                return set(holders) == {"w1"}

            await wait_for(hosted)
            await until(url, green)

            streams = [key async for key in admin.scan_iter(match=f"{prefix}:*", _type="STREAM")]
            for stream in streams:
                groups = await admin.xinfo_groups(stream)
                if any(g["name"] in (GROUP, GROUP.encode()) for g in groups):
                    await admin.xgroup_destroy(stream, GROUP)
            await until(url, red("consumer group was lost"))
            await until(url, green)
        finally:
            await admin.aclose()

        await asyncio.to_thread(server.stop)
        await until(url, red("has not completed a read"))
        await asyncio.to_thread(server.start)  # empty: no streams, no groups
        await until(url, green)
        assert workers.terminate("w1") == 0, workers.logs()
    finally:
        workers.close()
