"""Redis for the distributed tests.

``redis_url``: the local server on 127.0.0.1:6379 when it answers PING, else a redis-server
started on a free port for the session. Neither possible: under CI=true the test fails with
the reason, elsewhere it is skipped. ``redis_prefix`` gives every test its own key prefix
and deletes its keys afterwards, so parallel runs don't collide.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from tests.distributed._servers import RedisServer, ping
from tests.distributed._workers import Workers


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    if ping(6379):
        yield "redis://127.0.0.1:6379/0"
        return
    server = RedisServer()
    server.start()
    try:
        yield server.url
    finally:
        server.cleanup()


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    return redis_server_url


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


_PURE = {"test_wire.py", "test_eager.py", "test_worker_cli.py"}
_SLOW = {"test_sigkill_with_10000_in_flight"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this folder's tests ``redis`` (all but the pure ones) and the long one ``slow``."""
    here = Path(__file__).parent
    for item in items:
        path = Path(str(item.fspath))
        if path.parent != here or path.name in _PURE:
            continue
        item.add_marker(pytest.mark.redis)
        if item.name in _SLOW:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
async def rclient(redis_url: str) -> AsyncIterator[redis.Redis]:
    """A plain Redis client on the test's server (to read leases, streams, records)."""
    client = redis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def runner_workers(redis_url: str, redis_prefix: str) -> Iterator[Workers]:
    """Worker processes hosting the conversations of ``tests.distributed.runner_app``."""
    made = Workers(redis_url, redis_prefix, "tests.distributed.runner_app", record=False)
    yield made
    made.close()
