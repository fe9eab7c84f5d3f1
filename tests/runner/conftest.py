"""Fixtures: every end-to-end runner test runs on both embedded stores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_runner.store import InMemoryStore, SQLiteStore, Store


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh store, not opened (the runner opens and closes it)."""
    if request.param == "memory":
        yield InMemoryStore()
    else:
        yield SQLiteStore(tmp_path / "runner.sqlite3", synchronous="NORMAL")
