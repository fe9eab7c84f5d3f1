"""Short-term memory: offline token estimate, bounds, isolation and persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_runner.agent import ConversationMemory
from agent_runner.errors import ConfigurationError
from agent_runner.memory import ShortTermMemory, estimate_tokens, trim_to_budget
from agent_runner.store import InMemoryStore, MemoryItem, SQLiteStore


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a", 1),
        ("Hello, world!", 4),  # tiktoken: 4
        ("the quick brown fox jumps over the lazy dog", 11),  # 9 words, 43 chars
        ("internationalization", 5),  # one long word: the char estimate wins
        ("a b c d e f g h", 8),  # short words: the word floor wins
        ("!!??", 4),  # each punctuation mark at least one token
        ("日本語", 3),  # one token per non-ASCII character
        ("naïve café", 2 + 2),  # ASCII "nave caf" (2 words) + 2 non-ASCII
        ("café", 1 + 1),
    ],
)
def test_estimate_tokens(text: str, expected: int) -> None:
    assert estimate_tokens(text) == expected


def test_estimate_tokens_scales_with_length() -> None:
    prose = "Agents run forever and answer every message exactly once. " * 100
    estimate = estimate_tokens(prose)
    # a BPE tokenizer counts about 11 tokens per sentence here: the estimate is a bit high
    assert 1100 <= estimate <= 1500


def _items(*tokens: int) -> list[MemoryItem]:
    return [MemoryItem(role="user", text=f"m{n}", tokens=t) for n, t in enumerate(tokens)]


@pytest.mark.parametrize(
    ("tokens", "max_messages", "max_tokens", "kept"),
    [
        ((1, 1, 1), 10, None, ["m0", "m1", "m2"]),
        ((1, 1, 1), 2, None, ["m1", "m2"]),
        ((5, 3, 2), 10, 5, ["m1", "m2"]),
        ((5, 3, 2), 10, 4, ["m2"]),
        ((1, 9, 1), 10, 5, ["m2"]),  # a too-big turn cuts everything older than it
        ((9,), 10, 5, []),
        ((2, 2, 2, 2), 3, 100, ["m1", "m2", "m3"]),
        ((), 3, 5, []),
        ((1, 1), 0, None, []),
    ],
)
def test_trim_to_budget(
    tokens: tuple[int, ...], max_messages: int, max_tokens: int | None, kept: list[str]
) -> None:
    got = trim_to_budget(_items(*tokens), max_messages=max_messages, max_tokens=max_tokens)
    assert [i.text for i in got] == kept


@pytest.mark.parametrize("kwargs", [{"max_messages": 0}, {"max_tokens": 0}])
def test_bad_bounds_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        ShortTermMemory(**kwargs)  # type: ignore[arg-type]


async def test_add_persists_and_load_restores() -> None:
    store = InMemoryStore()
    memory = ShortTermMemory(max_messages=10, clock=lambda: 100.0)
    view = await memory.load(store, "http:c1")
    assert isinstance(view, ConversationMemory)
    assert view.conversation_key == "http:c1" and len(view.messages) == 0
    await view.add("user", "hello there", name="ann", message_key="http:1")
    await view.add("assistant", "hi ann", meta={"model": "m"})
    assert [(m.role, m.text) for m in view.messages] == [
        ("user", "hello there"),
        ("assistant", "hi ann"),
    ]
    first = view.messages[0]
    assert first.name == "ann" and first.message_key == "http:1" and first.created_at == 100.0
    assert first.tokens == estimate_tokens("hello there")
    assert view.messages[1].meta == {"model": "m"}
    again = await ShortTermMemory(max_messages=10).load(store, "http:c1")
    assert again.messages == view.messages


async def test_messages_is_a_snapshot() -> None:
    view = await ShortTermMemory().load(InMemoryStore(), "c")
    before = view.messages
    await view.add("user", "x")
    assert before == () and len(view.messages) == 1


async def test_bounded_by_message_count_in_view_and_store() -> None:
    store = InMemoryStore()
    memory = ShortTermMemory(max_messages=3, max_tokens=None)
    view = await memory.load(store, "c")
    for n in range(7):
        await view.add("user", f"turn {n}")
    assert [m.text for m in view.messages] == ["turn 4", "turn 5", "turn 6"]
    assert [m.text for m in await store.memory_load("c", 100)] == ["turn 4", "turn 5", "turn 6"]


async def test_bounded_by_tokens_with_a_pluggable_counter() -> None:
    store = InMemoryStore()
    words = ShortTermMemory(max_messages=50, max_tokens=6, token_counter=lambda t: len(t.split()))
    view = await words.load(store, "c")
    await view.add("user", "one two three")
    await view.add("assistant", "four five")
    await view.add("user", "six seven eight")
    assert [m.text for m in view.messages] == ["four five", "six seven eight"]
    assert view.tokens == 5
    reloaded = await words.load(store, "c")
    assert [m.text for m in reloaded.messages] == ["four five", "six seven eight"]


async def test_conversations_never_share_memory() -> None:
    store = InMemoryStore()
    memory = ShortTermMemory()
    alice = await memory.load(store, "discord:dm-alice")
    bob = await memory.load(store, "discord:dm-bob")
    await alice.add("user", "my password is hunter2")
    await bob.add("user", "hi")
    assert [m.text for m in bob.messages] == ["hi"]
    assert [m.text for m in (await memory.load(store, "discord:dm-bob")).messages] == ["hi"]


async def test_items_stored_without_tokens_are_counted_on_load() -> None:
    store = InMemoryStore()
    await store.memory_append("c", [MemoryItem(role="user", text="a b c d")], keep=10)
    view = await ShortTermMemory(token_counter=lambda t: len(t.split())).load(store, "c")
    assert [m.tokens for m in view.messages] == [4]


async def test_a_restart_keeps_the_context(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite3"
    memory = ShortTermMemory(max_messages=4, max_tokens=1000)
    store = SQLiteStore(path)
    await store.open()
    try:
        view = await memory.load(store, "discord:c1")
        for n in range(6):
            await view.add("user" if n % 2 == 0 else "assistant", f"turn {n}", meta={"n": n})
        before = view.messages
    finally:
        await store.close()

    reopened = SQLiteStore(path)
    await reopened.open()
    try:
        after = await memory.load(reopened, "discord:c1")
        assert after.messages == before
        assert [m.text for m in after.messages] == ["turn 2", "turn 3", "turn 4", "turn 5"]
        assert (await memory.load(reopened, "discord:c2")).messages == ()
    finally:
        await reopened.close()


async def test_add_keeps_the_same_turns_as_trim_to_budget_with_running_totals() -> None:
    """The view's O(1) bookkeeping (running token total, kept keys) agrees with trimming the
    whole list after every add, over a mix of sizes (one turn alone over the budget too)."""
    store = InMemoryStore()
    await store.open()
    memory = ShortTermMemory(max_messages=7, max_tokens=20, token_counter=len)
    view = await memory.load(store, "c")
    everything: list[MemoryItem] = []
    for n, size in enumerate([3, 5, 1, 25, 2, 9, 4, 4, 1, 6, 8, 2, 2, 2, 2, 2, 2, 2, 11]):
        await view.add("user", "x" * size, message_key=f"k{n}")
        everything.append(MemoryItem(role="user", text="x" * size, tokens=size))
        expected = trim_to_budget(everything, max_messages=7, max_tokens=20)
        assert [i.text for i in view.messages] == [i.text for i in expected]
        assert view.tokens == sum(i.tokens for i in expected)
        kept = {i.message_key for i in view.messages}
        assert all(view.has_turn(f"k{m}") == (f"k{m}" in kept) for m in range(n + 1))


async def test_add_many_remembers_a_turn_with_one_store_write(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.sqlite3", synchronous="NORMAL")
    await store.open()
    try:
        view = await ShortTermMemory().load(store, "c")
        batches = store.batches
        turns = [("user", "hi", "ann", None), ("assistant", "hello", None, None)]
        await view.add_many(turns, message_key="k")  # type: ignore[arg-type]
        await store.flush()  # the append is lazy: it rides with the next awaited write
        assert store.batches == batches + 1
        assert view.has_turn("k") and not view.has_turn("other")
        again = await ShortTermMemory().load(store, "c")
        assert [(i.role, i.text, i.name, i.message_key) for i in again.messages] == [
            ("user", "hi", "ann", "k"),
            ("assistant", "hello", None, "k"),
        ]
    finally:
        await store.close()
