"""Long-term memory backends for the contract tests: SQLite in a temp file and Redis (a real
redis-server, started when none listens; fixtures from tests/distributed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from agent_runner.memory import (
    HashingEmbedder,
    LongTermMemory,
    MemoryBackend,
    RedisMemoryStore,
    SQLiteMemoryStore,
)
from tests.distributed.conftest import redis_prefix, redis_server_url, redis_url

__all__ = ["redis_prefix", "redis_server_url", "redis_url"]


class Clock:
    """A settable clock (seconds)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


BackendFactory = Callable[[], MemoryBackend]


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend_factory(request: pytest.FixtureRequest, tmp_path: Path) -> BackendFactory:
    """Makes backends on one shared database (two of them act like two processes)."""
    if request.param == "sqlite":
        path = tmp_path / "memory.sqlite3"
        return lambda: SQLiteMemoryStore(path)
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    return lambda: RedisMemoryStore(url, prefix=prefix)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def memory(backend_factory: BackendFactory, clock: Clock) -> AsyncIterator[LongTermMemory]:
    async with LongTermMemory(
        backend_factory(), HashingEmbedder(), max_items_per_scope=50, clock=clock
    ) as opened:
        yield opened
