"""The owned journal part of the Store contract (``OwnedJournal``), run against every store.

Mixed into each store's contract class beside :class:`~tests.store.contract.StoreContract`;
needs the same ``store`` fixture. Replicas are played by holder names and their replica
leases; "dead" is a lease released, "paused" a fence whose lease was taken again.
"""

from __future__ import annotations

import asyncio

import pytest

from agent_runner.errors import LeaseLostError
from agent_runner.store import Fence, OwnedJournal, Store, replica_lease

LONG = 60.0
SOURCES = ("tg", "http")


async def alive(store: Store, owner: str) -> Fence:
    """``owner``'s replica lease taken: the fence it adopts under."""
    token = await store.lease_acquire(replica_lease(owner), owner, LONG)
    assert token is not None
    return Fence(replica_lease(owner), token)


async def accept(store: OwnedJournal, owner: str, *keys: str) -> None:
    for key in keys:
        assert await store.journal_accept(key, f"{key}:conv", f'"{key}"', owner=owner)


class OwnedJournalContract:
    """Pending entries belong to the replica that accepted them until a live one adopts them."""

    async def test_is_an_owned_journal(self, store: Store) -> None:
        assert isinstance(store, OwnedJournal)

    async def test_a_dead_owners_entries_are_adopted_once_in_order(self, store: Store) -> None:
        assert isinstance(store, OwnedJournal)
        await alive(store, "a")
        b = await alive(store, "b")
        await accept(store, "a", "tg:1", "tg:2")
        await accept(store, "b", "tg:3")
        await accept(store, "a", "tg:4")
        assert {"a", "b"} <= set(await store.journal_owners())

        assert await store.journal_adopt("a", by="b", fence=b, sources=SOURCES) == []  # alive
        await store.lease_release(replica_lease("a"), "a")  # a is gone
        adopted = await store.journal_adopt("a", by="b", fence=b, sources=SOURCES)
        assert [e.key for e in adopted] == ["tg:1", "tg:2", "tg:4"]
        assert [e.payload for e in adopted] == ['"tg:1"', '"tg:2"', '"tg:4"']
        assert await store.journal_adopt("a", by="b", fence=b, sources=SOURCES) == []
        assert "a" not in await store.journal_owners()

        # Now b's: completed by b, and what is left moves on when b dies in turn.
        await store.journal_complete("tg:2", owner="b")
        c = await alive(store, "c")
        await store.lease_release(replica_lease("b"), "b")
        moved = await store.journal_adopt("b", by="c", fence=c, sources=SOURCES)
        assert [e.key for e in moved] == ["tg:1", "tg:3", "tg:4"]
        assert [e.key for e in await store.journal_pending()] == ["tg:1", "tg:3", "tg:4"]

    async def test_other_bots_entries_stay(self, store: Store) -> None:
        assert isinstance(store, OwnedJournal)
        b = await alive(store, "b")
        await accept(store, "a", "tg:1", "cron:2")
        adopted = await store.journal_adopt("a", by="b", fence=b, sources=SOURCES)
        assert [e.key for e in adopted] == ["tg:1"]
        assert "a" in await store.journal_owners()  # cron:2 waits for its own bot
        assert [e.key for e in await store.journal_adopt("a", by="b", fence=b, sources=["cron"])]

    async def test_a_lost_fence_adopts_nothing(self, store: Store) -> None:
        assert isinstance(store, OwnedJournal)
        stale = await alive(store, "b")
        await store.lease_release(replica_lease("b"), "b")
        await alive(store, "b")  # taken again: a new token, the old fence is stale
        await accept(store, "a", "tg:1")
        with pytest.raises(LeaseLostError):
            await store.journal_adopt("a", by="b", fence=stale, sources=SOURCES)
        assert [e.key for e in await store.journal_pending()] == ["tg:1"]

    async def test_entries_without_an_owner_are_adopted_at_any_time(self, store: Store) -> None:
        assert isinstance(store, OwnedJournal)
        b = await alive(store, "b")
        assert await store.journal_accept("tg:1", "c", "{}")  # no owner named
        assert [e.key for e in await store.journal_adopt("", by="b", fence=b, sources=SOURCES)]

    async def test_concurrent_adopters_split_nothing_twice(self, store: Store) -> None:
        assert isinstance(store, OwnedJournal)
        fences = [await alive(store, name) for name in ("b", "c", "d")]
        keys = [f"tg:{n}" for n in range(30)]
        await accept(store, "a", *keys)
        results = await asyncio.gather(
            *(
                store.journal_adopt("a", by=f.lease.split(":")[1], fence=f, sources=SOURCES)
                for f in fences
            )
        )
        adopted = [e.key for result in results for e in result]
        assert sorted(adopted) == sorted(keys)
