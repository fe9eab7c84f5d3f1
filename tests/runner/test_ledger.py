"""The reply ledger: a reply whose send was interrupted is resolved on restart, never skipped.

Each test leaves a SQLite file in the state a SIGKILL between the ledger's claim and the
reply's outcome leaves (the message journaled, its reply claimed, some parts recorded),
then starts a runner on it. ``tests/runner/test_ledger_crash.py`` does the same with real
SIGKILLs of a real bot process.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from agent_runner import AgentContext, DeliveryKey, Message, Reply
from agent_runner.connector import BaseConnector, DeliveryContract
from agent_runner.runner.replies import LOST, ReplyEvent
from agent_runner.store import SQLiteStore, Store
from agent_runner.testing.webhook import FakeWebhookReceiver
from connectors.inmemory import InMemoryConnector
from connectors.webhook import WebhookOutput
from tests.runner.support import make, running


async def echo(message: Message, context: AgentContext) -> str:
    return message.text


def message(n: int, text: str = "") -> Message:
    return Message(
        id=f"m{n}",
        conversation_id="c",
        source="memory",
        author={"id": "u"},  # type: ignore[arg-type]
        text=text or f"message {n}",
    )


async def crashed(path: Path, *messages: Message, claimed: dict[str, list[str]]) -> None:
    """Leave ``path`` as a SIGKILL after the claims would: journaled, claimed, no outcome."""
    store = SQLiteStore(path)
    await store.open()
    for m in messages:
        await store.journal_accept(m.key, m.conversation_key, m.model_dump_json())
    for output, keys in claimed.items():
        for key in keys:
            assert (await store.reply_open(key, output)).attempt == 1
    await store.close()


class Platform(BaseConnector):
    """An output on a fake platform that splits each reply at ``|`` into posts.

    ``delivery`` is set per test; ``exactly_once`` drops a post whose part key it has seen
    (as a platform honouring an idempotency key does), ``reconciled`` answers lookups.
    """

    def __init__(self, delivery: DeliveryContract) -> None:
        super().__init__(name="memory")
        self.delivery = delivery
        self.posts: list[tuple[str, str]] = []  # (part key, text) as the platform keeps them
        self.requests = 0
        self.lookups = 0
        self.fail_after_parts: int | None = None

    async def send(self, request: Message, response: Reply, *, key: DeliveryKey) -> None:
        for part, text in enumerate(response.text.split("|")):
            if part in key.parts:
                continue
            if self.fail_after_parts is not None and self.requests >= self.fail_after_parts:
                self.fail_after_parts = None
                raise ConnectionResetError("the platform hung up")
            self.requests += 1
            if self.delivery != "exactly_once" or key.part_key(part) not in dict(self.posts):
                self.posts.append((key.part_key(part), text))
            await key.part_delivered(part, f"post-{len(self.posts)}")

    async def reconcile(self, request: Message, response: Reply, key: DeliveryKey) -> bool:
        self.lookups += 1
        there = dict(self.posts)
        parts = response.text.split("|")
        for part in range(len(parts)):
            if part in key.parts:
                continue
            if key.part_key(part) not in there:
                return False
            await key.part_delivered(part, "found")
        return True


async def test_exactly_once_webhook_resends_under_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    await crashed(path, message(1), message(2), claimed={"webhook": ["memory:m1#0"]})
    chat = InMemoryConnector()
    async with FakeWebhookReceiver() as receiver:
        hook = WebhookOutput(receiver.url, backoff_base=0.001)
        runtime = make(
            [chat], [chat, hook], echo, store=SQLiteStore(path), routes={"memory": ["webhook"]}
        )
        runtime._replies.listeners.append(events := _Events())
        async with running(runtime):
            posts = await receiver.wait_kept(2)
    assert [p.key for p in posts] == ["memory:m1#0", "memory:m2#0"]
    assert receiver.duplicates == 0
    assert [p.json["reply"]["text"] for p in posts] == ["message 1", "message 2"]
    assert events.of("memory:m1#0") == ["resumed", "sent"]
    assert events.of("memory:m2#0") == ["sent"]


async def test_a_reply_with_an_outcome_is_not_sent_again(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    await crashed(path, message(1), claimed={"memory": ["memory:m1#0"]})
    store = SQLiteStore(path)
    await store.open()
    await store.reply_result("memory:m1#0", "memory", ok=True)
    await store.close()
    platform = Platform("exactly_once")
    async with running(make([], [platform], echo, store=SQLiteStore(path))) as runtime:
        await _drained(runtime.store)
    assert platform.requests == 0


async def test_at_most_once_reports_the_lost_reply_with_its_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bot.sqlite3"
    await crashed(path, message(1), message(2), claimed={"memory": ["memory:m1#0"]})
    chat = InMemoryConnector()  # declares no contract: at most once
    runtime = make([chat], [chat], echo, store=SQLiteStore(path))
    runtime._replies.listeners.append(events := _Events())
    with caplog.at_level(logging.WARNING, "agent_runner.runtime"):
        async with running(runtime):
            [(request, _)] = await chat.wait_for_replies(1)
            state = await runtime.store.reply_open("memory:m1#0", "memory")
    assert request.id == "m2"  # m1's reply is not sent again...
    assert (state.ok, state.error) == (False, LOST)  # ...and recorded lost
    [warning] = [r for r in caplog.records if "lost" in r.getMessage()]
    assert warning.levelno == logging.WARNING and "memory:m1#0" in warning.getMessage()
    assert events.of("memory:m1#0") == ["lost"]
    assert "already sent" not in caplog.text


async def test_a_split_reply_resumes_at_the_first_part_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    m = message(1, "one|two|three|four|five")
    await crashed(path, m, claimed={"memory": ["memory:m1#0"]})
    store = SQLiteStore(path)
    await store.open()
    for part in range(3):
        await store.reply_part("memory:m1#0", "memory", part, f"post-{part + 1}")
    await store.close()
    platform = Platform("exactly_once")
    platform.posts = [("memory:m1#0", "one"), ("memory:m1#0.1", "two"), ("memory:m1#0.2", "three")]
    async with running(make([], [platform], echo, store=SQLiteStore(path))) as runtime:
        await _drained(runtime.store)
    assert [text for _, text in platform.posts] == ["one", "two", "three", "four", "five"]
    assert platform.requests == 2  # parts 4 and 5 only


async def test_reconciled_output_looks_up_before_sending(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    m1, m2 = message(1, "a|b|c|d|e"), message(2, "x|y")
    await crashed(path, m1, m2, claimed={"memory": ["memory:m1#0", "memory:m2#0"]})
    store = SQLiteStore(path)
    await store.open()
    await store.reply_part("memory:m1#0", "memory", 0, "p0")
    await store.close()
    platform = Platform("reconciled")
    # m1: three parts reached the platform, the ledger knows one; m2 arrived whole
    platform.posts = [
        ("memory:m1#0", "a"),
        ("memory:m1#0.1", "b"),
        ("memory:m1#0.2", "c"),
        ("memory:m2#0", "x"),
        ("memory:m2#0.1", "y"),
    ]
    runtime = make([], [platform], echo, store=SQLiteStore(path))
    runtime._replies.listeners.append(events := _Events())
    async with running(runtime):
        await _drained(runtime.store)
    assert [text for _, text in platform.posts] == ["a", "b", "c", "x", "y", "d", "e"]
    assert platform.requests == 2 and platform.lookups == 2
    assert events.of("memory:m1#0") == ["resumed", "reconciled", "sent"]
    assert events.of("memory:m2#0") == ["resumed", "reconciled"]
    assert [e.found for e in events.events if e.outcome == "reconciled"] == [False, True]


async def test_a_retry_in_the_same_process_skips_the_parts_delivered(tmp_path: Path) -> None:
    platform = Platform("at_most_once")  # no dedup at all: only the ledger prevents repeats
    platform.fail_after_parts = 2
    chat = InMemoryConnector()
    store = SQLiteStore(tmp_path / "bot.sqlite3")
    async with running(make([chat], [platform], echo, store=store)) as runtime:
        await chat.push("1|2|3|4", id="r")
        await _drained(runtime.store)
    assert [text for _, text in platform.posts] == ["1", "2", "3", "4"]


class _Events:
    def __init__(self) -> None:
        self.events: list[ReplyEvent] = []

    def __call__(self, event: ReplyEvent) -> None:
        self.events.append(event)

    def of(self, key: str) -> list[str]:
        return [e.outcome for e in self.events if e.key == key]


async def _drained(store: Store) -> None:
    """Wait until the journal has nothing pending (every recovered message handled)."""
    async with asyncio.timeout(20):
        while True:
            if not await store.journal_pending():
                return
            await asyncio.sleep(0.01)


async def test_connector_names_and_conversation_ids_cannot_collide_in_keys() -> None:
    from agent_runner import ConfigurationError, InvalidMessageError

    tricky = InMemoryConnector("m:x")
    with pytest.raises(ConfigurationError, match="must not contain ':'"):
        make([tricky], [InMemoryConnector("m")], echo)
    with pytest.raises(ConfigurationError, match="must not contain ':'"):
        make([InMemoryConnector("m")], [tricky], echo)
    with pytest.raises(InvalidMessageError, match="must not contain ':'"):
        Message.parse(
            {"id": "1", "conversation_id": "y", "source": "m:x", "author": {"id": "u"}, "text": "t"}
        )
    # 'm' + conversation 'x:y' stays valid, and its keys can no longer be forged by 'm:x' + 'y'
    plain = Message.parse(
        {"id": "1", "conversation_id": "x:y", "source": "m", "author": {"id": "u"}, "text": "t"}
    )
    assert plain.conversation_key == "m:x:y" and plain.key == "m:1"
