"""Fixtures: shared counters of every store (in-memory, a SQLite file, Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_runner.distributed import RedisStore
from agent_runner.store import InMemoryStore, SQLiteStore, Store
from tests.distributed.conftest import redis_prefix, redis_server_url, redis_url

__all__ = ["redis_prefix", "redis_server_url", "redis_url", "shared_store"]


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def shared_store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, redis_prefix: str
) -> AsyncIterator[Store]:
    """An open store of each kind (Redis: under a fresh prefix, its keys deleted after)."""
    store: Store
    if request.param == "memory":
        store = InMemoryStore()
    elif request.param == "sqlite":
        store = SQLiteStore(tmp_path / "limits.sqlite3")
    else:
        store = RedisStore(redis_url, prefix=redis_prefix)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
