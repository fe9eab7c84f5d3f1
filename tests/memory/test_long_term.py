"""Long-term memory on both backends: recall by meaning, scopes never crossed, retention,
forgetting, and two processes on one database."""

from __future__ import annotations

import pytest

from agent_runner.memory import HashingEmbedder, LongTermMemory, MemoryScope
from tests.memory.conftest import BackendFactory, Clock

ADA = MemoryScope.user("discord", "ada")
BOB = MemoryScope.user("discord", "bob")

FACTS = [
    "Ada prefers green tea to coffee in the morning",
    "Ada's cat is called Pixel",
    "Ada works as a nurse on night shifts",
    "Ada is learning to play the cello",
    "Ada lives in Lyon near the river",
]


async def test_recall_by_meaning_ranks_the_matching_fact_first(memory: LongTermMemory) -> None:
    for fact in FACTS:
        await memory.remember(ADA, fact)
    cases = {
        "what does she like to drink, tea or coffee?": FACTS[0],
        "the name of her cat": FACTS[1],
        "which instrument is she learning": FACTS[3],
        "what city does Ada live in": FACTS[4],
        "does she work nights": FACTS[2],
    }
    for query, expected in cases.items():
        found = await memory.recall(query, [ADA], k=3)
        assert found and found[0].record.text == expected, (query, found)
        assert found == sorted(found, key=lambda f: f.score, reverse=True)
        assert all(0.0 < f.score <= 1.0001 for f in found)


async def test_one_users_facts_never_surface_for_another(memory: LongTermMemory) -> None:
    # Near-identical texts in two users' scopes, and many other users around them.
    await memory.remember(ADA, "My bank PIN is 4321 and my favourite colour is green")
    await memory.remember(BOB, "My bank PIN is 9876 and my favourite colour is green")
    for n in range(20):
        await memory.remember(MemoryScope.user("discord", f"u{n}"), f"My bank PIN is {n:04}")
    for query in ["bank PIN", "favourite colour", "My bank PIN is 4321", "4321"]:
        for_bob = await memory.recall(query, [BOB], k=10, min_score=-1.0)
        assert [r.record.text for r in for_bob] == [
            "My bank PIN is 9876 and my favourite colour is green"
        ]
        assert {r.record.scope for r in for_bob} == {"user:discord:bob"}
    for_ada = await memory.recall("bank PIN 9876", [ADA], k=10, min_score=-1.0)
    assert [r.record.scope for r in for_ada] == ["user:discord:ada"]
    assert await memory.recall("bank PIN", [], k=10) == []


async def test_shared_scopes_only_when_given(memory: LongTermMemory) -> None:
    team = MemoryScope.shared("team")
    await memory.remember(team, "The office wifi password is on the fridge")
    assert await memory.recall("wifi password", [ADA]) == []
    found = await memory.recall("wifi password", [ADA, team])
    assert [r.record.scope for r in found] == ["shared:team"]


async def test_retention_keeps_the_newest_items_per_scope(
    backend_factory: BackendFactory, clock: Clock
) -> None:
    async with LongTermMemory(
        backend_factory(), HashingEmbedder(), max_items_per_scope=3, clock=clock
    ) as memory:
        for n in range(5):
            clock.now += 1
            await memory.remember(ADA, f"note number {n} about parcels")
        await memory.remember(BOB, "note about parcels")
        assert await memory.count(ADA) == 3 and await memory.count(BOB) == 1
        found = await memory.recall("note about parcels", [ADA], k=10, min_score=-1)
        assert sorted(r.record.text for r in found) == [
            f"note number {n} about parcels" for n in (2, 3, 4)
        ]


async def test_retention_drops_items_older_than_max_age(
    backend_factory: BackendFactory, clock: Clock
) -> None:
    async with LongTermMemory(
        backend_factory(), HashingEmbedder(), max_age=3600, clock=clock
    ) as memory:
        await memory.remember(ADA, "old fact about the garden")
        clock.now += 3000
        await memory.remember(ADA, "newer fact about the garden")
        clock.now += 1000  # the first is now too old: never recalled, then deleted
        found = await memory.recall("fact about the garden", [ADA], k=10)
        assert [r.record.text for r in found] == ["newer fact about the garden"]
        await memory.remember(ADA, "newest fact about the garden")
        assert await memory.count(ADA) == 2


async def test_forget_a_scope_an_item_and_a_user(memory: LongTermMemory) -> None:
    conversation = MemoryScope.conversation("discord:channel-1")
    kept = await memory.remember(ADA, "Ada likes hiking in the Alps", author=ADA.id)
    dropped = await memory.remember(ADA, "Ada likes skiing in the Alps", author=ADA.id)
    await memory.remember(
        conversation, "Ada said the release is on Friday", kind="snippet", author=ADA.id
    )
    await memory.remember(conversation, "Bob said the demo is on Monday", author=BOB.id)
    await memory.remember(BOB, "Bob likes hiking too", author=BOB.id)

    assert await memory.forget_item(ADA, dropped.id) is True
    assert await memory.forget_item(ADA, dropped.id) is False
    found = await memory.recall("likes the Alps", [ADA], k=5)
    assert [r.record.id for r in found] == [kept.id]

    assert await memory.forget_user("discord", "ada") == 2  # her scope and her snippet
    assert await memory.recall("hiking Alps", [ADA], k=5) == []
    remaining = await memory.recall("said on day", [conversation], k=5, min_score=-1)
    assert [r.record.text for r in remaining] == ["Bob said the demo is on Monday"]
    assert await memory.count(BOB) == 1

    assert await memory.forget(conversation) == 1
    assert await memory.count(conversation) == 0


async def test_two_processes_see_each_others_writes_and_deletes(
    backend_factory: BackendFactory, clock: Clock
) -> None:
    first = LongTermMemory(backend_factory(), HashingEmbedder(), clock=clock)
    second = LongTermMemory(backend_factory(), HashingEmbedder(), clock=clock)
    async with first, second:
        await first.remember(ADA, "Ada's favourite pizza is margherita")
        assert [r.record.text for r in await second.recall("favourite pizza", [ADA])] == [
            "Ada's favourite pizza is margherita"
        ]  # second now caches the scope's matrix
        record = await first.remember(ADA, "Ada's favourite pasta is carbonara")
        found = await second.recall("favourite pasta", [ADA], k=1)
        assert [r.record.id for r in found] == [record.id]
        await first.forget_user("discord", "ada")
        assert await second.recall("favourite pizza", [ADA]) == []


async def test_empty_text_is_refused(memory: LongTermMemory) -> None:
    with pytest.raises(ValueError, match="empty"):
        await memory.remember(ADA, "   ")
    assert await memory.recall("  ", [ADA]) == []


def test_scopes_are_validated_values() -> None:
    assert str(MemoryScope.conversation("http:me")) == "conversation:http:me"
    assert MemoryScope.parse("shared:team") == MemoryScope.shared("team")
    with pytest.raises(ValueError):
        MemoryScope.parse("everyone:x")
    with pytest.raises(ValueError):
        MemoryScope.user("discord", "has space")
