"""The Store contract, written once and run against every implementation.

Subclass :class:`StoreContract` and provide an async fixture ``store`` that yields an opened
store (empty, private to the test) and closes it afterwards::

    class TestMemoryStore(StoreContract):
        @pytest.fixture
        async def store(self) -> AsyncIterator[Store]:
            s = InMemoryStore()
            await s.open()
            yield s
            await s.close()
"""

from __future__ import annotations

import asyncio

from agent_runner.store import CostEntry, MemoryItem, Store


def cost(
    cost: float, *, conversation: str = "c1", day: str = "2026-01-01", request: str = "r1"
) -> CostEntry:
    return CostEntry(
        request_key=request,
        conversation_key=conversation,
        model="m",
        input_tokens=10,
        output_tokens=20,
        cost=cost,
        day=day,
        at=0.0,
    )


def item(text: str, role: str = "user", **fields: object) -> MemoryItem:
    return MemoryItem(role=role, text=text, **fields)  # type: ignore[arg-type]


class StoreContract:
    """Behaviour every Store must have. Needs a ``store`` fixture (opened, closed after)."""

    # -- protocol ------------------------------------------------------------------
    async def test_is_a_store(self, store: Store) -> None:
        assert isinstance(store, Store)

    async def test_open_is_idempotent(self, store: Store) -> None:
        await store.open()
        assert await store.journal_accept("k", "c", "{}") is True

    # -- journal -------------------------------------------------------------------
    async def test_duplicate_accept_returns_false(self, store: Store) -> None:
        assert await store.journal_accept("src:1", "src:c", '{"a": 1}') is True
        assert await store.journal_accept("src:1", "src:c", '{"a": 2}') is False
        pending = await store.journal_pending()
        assert [(e.key, e.payload) for e in pending] == [("src:1", '{"a": 1}')]

    async def test_completed_key_is_still_a_duplicate(self, store: Store) -> None:
        assert await store.journal_accept("src:1", "src:c", "{}") is True
        await store.journal_complete("src:1")
        assert await store.journal_accept("src:1", "src:c", "{}") is False
        assert await store.journal_pending() == []

    async def test_pending_in_acceptance_order(self, store: Store) -> None:
        keys = [f"k{i}" for i in (5, 3, 9, 1, 7, 2)]
        for k in keys:
            assert await store.journal_accept(k, f"conv-{k}", f'"{k}"')
        pending = await store.journal_pending()
        assert [e.key for e in pending] == keys
        assert [e.conversation_key for e in pending] == [f"conv-{k}" for k in keys]
        seqs = [e.seq for e in pending]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert all(e.accepted_at > 0 for e in pending)

    async def test_concurrent_accepts_keep_call_order(self, store: Store) -> None:
        keys = [f"k{i:03d}" for i in range(200)]
        results = await asyncio.gather(*(store.journal_accept(k, "c", "{}") for k in keys))
        assert all(results)
        assert [e.key for e in await store.journal_pending()] == keys

    async def test_concurrent_duplicate_accepts_one_wins(self, store: Store) -> None:
        results = await asyncio.gather(*(store.journal_accept("dup", "c", "{}") for _ in range(50)))
        assert results.count(True) == 1

    async def test_complete_removes_from_pending(self, store: Store) -> None:
        for k in ("a", "b", "c"):
            await store.journal_accept(k, "conv", "{}")
        await store.journal_complete("b")
        await store.journal_complete("unknown")  # harmless
        await store.flush()
        assert [e.key for e in await store.journal_pending()] == ["a", "c"]
        await store.journal_complete("a")
        await store.journal_complete("a")  # idempotent
        assert [e.key for e in await store.journal_pending()] == ["c"]

    # -- replies ---------------------------------------------------------------------
    async def test_reply_claim_once(self, store: Store) -> None:
        assert await store.reply_claim("src:1#0", "discord") is True
        assert await store.reply_claim("src:1#0", "discord") is False
        assert await store.reply_claim("src:1#0", "x") is True  # another output
        assert await store.reply_claim("src:1#1", "discord") is True  # another reply
        await store.reply_result("src:1#0", "discord", ok=True)
        await store.reply_result("src:1#0", "x", ok=False, error="boom")
        assert await store.reply_claim("src:1#0", "x") is False

    async def test_reply_claim_once_under_100_concurrent_claimers(self, store: Store) -> None:
        results = await asyncio.gather(*(store.reply_claim("m#0", "out") for _ in range(100)))
        assert results.count(True) == 1
        assert results.count(False) == 99

    async def test_reply_open_claims_then_resumes_until_an_outcome(self, store: Store) -> None:
        first = await store.reply_open("src:1#0", "discord")
        assert (first.attempt, first.ok, first.done, first.resumed) == (1, None, False, False)
        await store.reply_part("src:1#0", "discord", 0, "111")
        await store.reply_part("src:1#0", "discord", 1, "222")
        again = await store.reply_open("src:1#0", "discord")  # the first attempt died
        assert (again.attempt, again.ok, again.resumed) == (2, None, True)
        assert dict(again.parts) == {0: "111", 1: "222"}
        assert (await store.reply_open("src:1#0", "discord")).attempt == 3
        assert (await store.reply_open("src:1#0", "x")).attempt == 1  # another output
        await store.reply_result("src:1#0", "discord", ok=True)
        await store.flush()
        done = await store.reply_open("src:1#0", "discord")
        assert (done.done, done.ok, done.resumed) == (True, True, False)
        await store.reply_result("src:1#0", "x", ok=False, error="boom")
        await store.flush()
        failed = await store.reply_open("src:1#0", "x")
        assert (failed.ok, failed.error, failed.attempt) == (False, "boom", 1)

    async def test_reply_open_once_under_100_concurrent_callers(self, store: Store) -> None:
        states = await asyncio.gather(*(store.reply_open("m#0", "out") for _ in range(100)))
        assert sorted(s.attempt for s in states) == list(range(1, 101))

    async def test_reply_claim_and_reply_open_share_the_ledger(self, store: Store) -> None:
        assert await store.reply_claim("m#0", "out") is True
        assert (await store.reply_open("m#0", "out")).resumed
        assert await store.reply_claim("m#0", "out") is False

    # -- cursors ---------------------------------------------------------------------
    async def test_cursors(self, store: Store) -> None:
        assert await store.cursor_get("x:since_id") is None
        await store.cursor_set("x:since_id", "100")
        await store.cursor_set("discord:last", "7")
        await store.cursor_set("x:since_id", "200")
        assert await store.cursor_get("x:since_id") == "200"
        assert await store.cursor_get("discord:last") == "7"

    # -- memory ----------------------------------------------------------------------
    async def test_memory_load_and_append(self, store: Store) -> None:
        assert await store.memory_load("c1", 10) == []
        first = item(
            "hi",
            name="ann",
            message_key="http:1",
            created_at=12.5,
            tokens=3,
            meta={"k": [1, "two"]},
        )
        await store.memory_append("c1", [first, item("hello", "assistant")], keep=10)
        await store.memory_append("c1", [item("how are you?")], keep=10)
        loaded = await store.memory_load("c1", 10)
        assert [(i.role, i.text) for i in loaded] == [
            ("user", "hi"),
            ("assistant", "hello"),
            ("user", "how are you?"),
        ]
        assert loaded[0] == first
        assert [i.text for i in await store.memory_load("c1", 2)] == ["hello", "how are you?"]
        assert await store.memory_load("c1", 0) == []

    async def test_memory_keep_trims_oldest(self, store: Store) -> None:
        for n in range(10):
            await store.memory_append("c1", [item(f"m{n}")], keep=4)
        assert [i.text for i in await store.memory_load("c1", 100)] == ["m6", "m7", "m8", "m9"]
        await store.memory_append("c1", [item("a"), item("b"), item("c")], keep=2)
        assert [i.text for i in await store.memory_load("c1", 100)] == ["b", "c"]

    async def test_memory_is_isolated_between_conversations(self, store: Store) -> None:
        await store.memory_append("alice", [item("secret of alice")], keep=5)
        await store.memory_append("bob", [item("bob's")], keep=5)
        for n in range(5):
            await store.memory_append("bob", [item(f"b{n}")], keep=2)
        assert [i.text for i in await store.memory_load("alice", 10)] == ["secret of alice"]
        assert [i.text for i in await store.memory_load("bob", 10)] == ["b3", "b4"]
        assert await store.memory_load("carol", 10) == []

    async def test_memory_concurrent_appends_keep_order(self, store: Store) -> None:
        await asyncio.gather(
            *(store.memory_append("c", [item(f"m{n}")], keep=100) for n in range(30))
        )
        assert [i.text for i in await store.memory_load("c", 100)] == [f"m{n}" for n in range(30)]

    # -- cost ledger -----------------------------------------------------------------
    async def test_cost_sum(self, store: Store) -> None:
        assert await store.cost_sum() == 0.0
        await store.cost_add(cost(0.25, conversation="a", day="2026-01-01"))
        await store.cost_add(cost(0.5, conversation="a", day="2026-01-02", request="r2"))
        await store.cost_add(cost(1.0, conversation="b", day="2026-01-02", request="r3"))
        assert await store.cost_sum() == 1.75
        assert await store.cost_sum(conversation_key="a") == 0.75
        assert await store.cost_sum(conversation_key="b") == 1.0
        assert await store.cost_sum(day="2026-01-02") == 1.5
        assert await store.cost_sum(conversation_key="a", day="2026-01-02") == 0.5
        assert await store.cost_sum(conversation_key="zzz") == 0.0
        assert await store.cost_sum(day="1999-01-01") == 0.0

    # -- payments --------------------------------------------------------------------
    async def test_payment_use_once(self, store: Store) -> None:
        assert await store.payment_use("sig1", key="http:1") is True
        assert await store.payment_use("sig1", key="http:2") is False
        assert await store.payment_use("sig2", key="http:2") is True

    async def test_payment_use_again_by_the_same_request(self, store: Store) -> None:
        # A request handled again after a restart (recovery) keeps the payment it used.
        assert await store.payment_use("sig1", key="http:1") is True
        assert await store.payment_use("sig1", key="http:1") is True
        assert await store.payment_use("sig1", key="http:9") is False

    async def test_payment_use_concurrent(self, store: Store) -> None:
        results = await asyncio.gather(
            *(store.payment_use("sig", key=f"req{n}") for n in range(50))
        )
        assert results.count(True) == 1

    # -- key-value state -------------------------------------------------------------
    async def test_state_get_set_delete(self, store: Store) -> None:
        assert await store.state_get("a") is None
        await store.state_set("a", "1")
        await store.state_set("b", "2")
        await store.state_set("a", "3")
        assert await store.state_get("a") == "3"
        await store.state_delete("a")
        await store.state_delete("a")  # idempotent
        assert await store.state_get("a") is None
        assert await store.state_get("b") == "2"

    # -- lifecycle -------------------------------------------------------------------
    async def test_flush_and_close_are_idempotent(self, store: Store) -> None:
        await store.journal_accept("k", "c", "{}")
        await store.journal_complete("k")
        await store.flush()
        await store.flush()
        await store.close()
        await store.close()

    async def test_flush_makes_lazy_writes_visible(self, store: Store) -> None:
        for n in range(20):
            await store.journal_accept(f"k{n}", "c", "{}")
        await asyncio.gather(*(store.journal_complete(f"k{n}") for n in range(0, 20, 2)))
        await store.flush()
        assert [e.key for e in await store.journal_pending()] == [f"k{n}" for n in range(1, 20, 2)]
