"""InMemoryStore against the Store contract."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agent_runner.store import InMemoryStore, Store
from tests.store.contract import StoreContract
from tests.store.contract_leases import LeaseContract
from tests.store.contract_owners import OwnedJournalContract


class TestMemoryStore(StoreContract, LeaseContract, OwnedJournalContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[Store]:
        s = InMemoryStore()
        await s.open()
        yield s
        await s.close()


async def test_reply_result_is_recorded() -> None:
    store = InMemoryStore()
    assert await store.reply_claim("k#0", "out")
    await store.reply_result("k#0", "out", ok=False, error="timeout")
    record = store.reply_record("k#0", "out")
    assert record is not None and record.ok is False and record.error == "timeout"


async def test_injected_clock_stamps_entries() -> None:
    store = InMemoryStore(clock=lambda: 42.0)
    await store.journal_accept("k", "c", "{}")
    assert [e.accepted_at for e in await store.journal_pending()] == [42.0]
