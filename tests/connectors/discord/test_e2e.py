"""End to end: AgentRuntime + DiscordConnector (real discord.py) <-> the fake Discord."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent_runner import AgentContext, AgentRuntime, Message
from agent_runner.store import InMemoryStore, SQLiteStore, Store
from agent_runner.testing.discord import MAX_CONTENT, FakeDiscord, FakeMessage
from tests.connectors.discord._fixtures import connector_for


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(heartbeat_interval=0.05) as server:
        yield server


async def echo(message: Message, context: AgentContext) -> str:
    return f"echo: {message.text}"


@contextlib.asynccontextmanager
async def bot(
    fake: FakeDiscord,
    agent: Any = echo,
    *,
    store: Store | None = None,
    runner: dict[str, Any] | None = None,
    **options: Any,
) -> AsyncIterator[AgentRuntime]:
    """A running bot: AgentRuntime with the Discord connector as input and output."""
    discord = connector_for(fake, **options)
    runtime = AgentRuntime(
        [discord],
        [discord],
        agent,
        store=store if store is not None else InMemoryStore(),
        handle_signals=False,
        retry_base_delay=0.01,
        retry_max_delay=5.0,
        **(runner or {}),
    )
    identified = fake.stats.identifies
    task = asyncio.ensure_future(runtime.run())
    try:
        await runtime.wait_started()
        await fake.wait_ready(identified + 1)
        yield runtime
    finally:
        await runtime.stop()
        await task


def replies_to(fake: FakeDiscord, message: FakeMessage) -> list[FakeMessage]:
    return [m for m in fake.messages_in(message.channel_id) if m.reply_to == message.id]


async def test_a_message_gets_exactly_one_reply_in_its_channel_with_typing(
    fake: FakeDiscord,
) -> None:
    other = fake.add_channel("other")
    typing_seen = asyncio.Event()

    async def slow_echo(message: Message, context: AgentContext) -> str:
        if message.text == "hello":
            await fake.wait_typing(fake.channel_id)  # typing shows while the agent works
            typing_seen.set()
        return f"echo: {message.text}"

    async with bot(fake, slow_echo):
        hello = await fake.post_user_message(fake.channel_id, "hello", mention_bot=True)
        await fake.wait_for_messages(fake.channel_id, 1)
        # A later message is answered too: by then a duplicate of the first would show.
        later = await fake.post_user_message(fake.channel_id, "later", mention_bot=True)
        await fake.wait_for_messages(fake.channel_id, 2)
    assert typing_seen.is_set()
    [reply] = replies_to(fake, hello)
    assert reply.content == "echo: hello"
    assert [m.content for m in replies_to(fake, later)] == ["echo: later"]
    assert len(fake.messages_in(fake.channel_id)) == 2
    assert fake.messages_in(other.id) == []


async def test_a_5000_character_reply_arrives_in_ordered_parts_with_code_intact(
    fake: FakeDiscord,
) -> None:
    lines = "\n".join(f"    print('line {i:03d}')" for i in range(150))
    answer = "Intro.\n\n" + "Words here. " * 150 + f"\n\n```python\ndef f():\n{lines}\n```\n\nDone."
    assert len(answer) > 5000

    async def long(message: Message, context: AgentContext) -> str:
        return answer if message.text == "long" else "ok"

    async with bot(fake, long):
        asked = await fake.post_user_message(fake.channel_id, "long", mention_bot=True)
        await fake.wait_for_messages(fake.channel_id, 1)
        # Same channel, same conversation: this is answered after every part of the first.
        sentinel = await fake.post_user_message(fake.channel_id, "next", mention_bot=True)
        await fake.wait_until(lambda: bool(replies_to(fake, sentinel)))
    *parts, last = fake.messages_in(fake.channel_id)
    assert last.reply_to == sentinel.id and last.content == "ok"
    assert len(parts) >= 3
    assert parts[0].reply_to == asked.id
    assert all(len(p.content) <= MAX_CONTENT for p in parts)
    assert all(p.content.count("```") % 2 == 0 for p in parts)
    text = "\n".join(p.content for p in parts)
    positions = [text.index(f"line {i:03d}") for i in range(150)]
    assert positions == sorted(positions)
    assert text.startswith("Intro.") and text.endswith("Done.")


async def test_the_bot_ignores_itself_and_other_bots(fake: FakeDiscord) -> None:
    other_bot = fake.new_user("chatty-bot", bot=True)
    async with bot(fake, mentions_only=False):
        await fake.post_user_message(fake.channel_id, "ping", author=other_bot, mention_bot=True)
        human = await fake.post_user_message(fake.channel_id, "hi")
        await fake.wait_for_messages(fake.channel_id, 1)
        sentinel = await fake.post_user_message(fake.channel_id, "still there?")
        await fake.wait_for_messages(fake.channel_id, 2)
    # Its own "echo: hi" came back on the gateway and was not answered (no echo: echo: ...).
    assert [m.content for m in fake.messages_in(fake.channel_id)] == [
        "echo: hi",
        "echo: still there?",
    ]
    assert replies_to(fake, human)[0].content == "echo: hi"
    assert replies_to(fake, sentinel)[0].content == "echo: still there?"


async def test_a_dropped_gateway_resumes_without_loss_or_duplicates(fake: FakeDiscord) -> None:
    async with bot(fake):
        first = await fake.post_user_message(fake.channel_id, "one", mention_bot=True)
        await fake.wait_for_messages(fake.channel_id, 1)
        async with fake.gateway_outage():
            during = await fake.post_user_message(fake.channel_id, "two", mention_bot=True)
        await fake.wait_resumed()
        after = await fake.post_user_message(fake.channel_id, "three", mention_bot=True)
        await fake.wait_for_messages(fake.channel_id, 3)
        await fake.drop_gateway()  # and once more, with nothing missed
        await fake.wait_resumed(2)
        last = await fake.post_user_message(fake.channel_id, "four", mention_bot=True)
        await fake.wait_for_messages(fake.channel_id, 4)
    for message, text in [(first, "one"), (during, "two"), (after, "three"), (last, "four")]:
        assert [m.content for m in replies_to(fake, message)] == [f"echo: {text}"]
    assert len(fake.messages_in(fake.channel_id)) == 4
    assert fake.stats.identifies == 1


async def test_a_restart_backfills_missed_messages_and_answers_nothing_twice(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    path = tmp_path / "bot.sqlite3"
    async with bot(fake, store=SQLiteStore(path)):
        one = await fake.post_user_message(fake.channel_id, "one", mention_bot=True)
        await fake.wait_for_messages(fake.channel_id, 1)
    # While the bot is down:
    two = await fake.post_user_message(fake.channel_id, "two", mention_bot=True)
    await fake.post_user_message(fake.channel_id, "just chatting")
    three = await fake.post_user_message(fake.channel_id, "three", mention_bot=True)
    async with bot(fake, store=SQLiteStore(path)):
        await fake.wait_for_messages(fake.channel_id, 3)
        four = await fake.post_user_message(fake.channel_id, "four", mention_bot=True)
        await fake.wait_for_messages(fake.channel_id, 4)
    # A stale cursor (here: rewound to before "one") re-reads history; the journal
    # recognises every message, so nothing is answered again.
    store = SQLiteStore(path)
    await store.open()
    name = f"discord:discord:{fake.bot.id}:last:{fake.channel_id}"
    assert await store.cursor_get(name) is not None
    await store.cursor_set(name, str(int(one.id) - 1))
    await store.close()
    async with bot(fake, store=SQLiteStore(path)):
        five = await fake.post_user_message(fake.channel_id, "five", mention_bot=True)
        await fake.wait_for_messages(fake.channel_id, 5)
    for message, text in [(one, "one"), (two, "two"), (three, "three"), (four, "four")]:
        assert [m.content for m in replies_to(fake, message)] == [f"echo: {text}"]
    assert [m.content for m in replies_to(fake, five)] == ["echo: five"]
    assert len(fake.messages_in(fake.channel_id)) == 5


async def test_429s_are_waited_out_within_the_cap_and_beyond_it_the_failure_is_recorded(
    fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="agent_runner")
    async with bot(fake):
        fake.rate_limit_next(4, retry_after=0.02)
        burst = await fake.post_user_message(fake.channel_id, "burst", mention_bot=True)
        await fake.wait_for_messages(fake.channel_id, 1)
        assert fake.rate_limited == 4
        fake.rate_limit_next(1, retry_after=120.0)  # over the cap: give up on this reply
        await fake.post_user_message(fake.channel_id, "walled", mention_bot=True)
        await fake.wait_until(lambda: fake.rate_limited == 5)
        after = await fake.post_user_message(fake.channel_id, "after", mention_bot=True)
        await fake.wait_for_messages(fake.channel_id, 2)
    assert [m.content for m in replies_to(fake, burst)] == ["echo: burst"]
    assert [m.content for m in replies_to(fake, after)] == ["echo: after"]
    assert any(
        "giving up" in r.getMessage() and "RateLimitedError" in r.getMessage()
        for r in caplog.records
    )


async def test_mentions_only_and_channel_filters(fake: FakeDiscord) -> None:
    other = fake.add_channel("other")
    async with bot(fake, channel_ids=[fake.channel_id]):
        await fake.post_user_message(fake.channel_id, "not for the bot")
        await fake.post_user_message(other.id, "wrong channel", mention_bot=True)
        asked = await fake.post_user_message(fake.channel_id, "for the bot", mention_bot=True)
        await fake.wait_for_messages(fake.channel_id, 1)
    assert [m.content for m in fake.messages_in(fake.channel_id)] == ["echo: for the bot"]
    assert replies_to(fake, asked)
    assert fake.messages_in(other.id) == []


async def test_two_bots_answering_each_other_stop_at_the_reply_depth_cap(
    fake: FakeDiscord,
) -> None:
    other = fake.new_user("other-bot", bot=True)
    channel = fake.channel_id
    async with bot(fake, runner={"allow_bots": True, "max_reply_depth": 2}):
        await fake.post_user_message(channel, "ping 0", author=other, mention_bot=True)
        [first] = await fake.wait_for_messages(channel, 1)  # our reply: depth 1
        await fake.post_user_message(channel, "ping 1", author=other, reply_to=first.id)
        second = (await fake.wait_for_messages(channel, 2))[1]  # depth 3
        last = await fake.post_user_message(channel, "ping 2", author=other, reply_to=second.id)
        # "ping 2" is 4 bot replies deep, over the cap of 2: refused. A human is still
        # answered afterwards.
        human = await fake.post_user_message(channel, "hello", mention_bot=True)
        await fake.wait_until(lambda: bool(replies_to(fake, human)))
    assert [m.content for m in fake.messages_in(channel)] == [
        "echo: ping 0",
        "echo: ping 1",
        "echo: hello",
    ]
    assert replies_to(fake, last) == []


async def test_a_channel_the_bot_may_not_post_in_fails_the_reply_and_the_bot_goes_on(
    fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="agent_runner")
    muted = fake.add_channel("announcements")
    muted.read_only = True
    async with bot(fake):
        await fake.post_user_message(muted.id, "hello?", mention_bot=True)
        await fake.wait_until(
            lambda: any("DeliveryError" in r.getMessage() for r in caplog.records)
        )
        asked = await fake.post_user_message(fake.channel_id, "and here?", mention_bot=True)
        await fake.wait_for_messages(fake.channel_id, 1)
    assert fake.messages_in(muted.id) == []
    assert [m.content for m in replies_to(fake, asked)] == ["echo: and here?"]


async def test_typing_stops_when_the_agent_answers_nothing(fake: FakeDiscord) -> None:
    handled = asyncio.Event()

    async def silent(message: Message, context: AgentContext) -> None:
        await fake.wait_typing(fake.channel_id)  # typing shows while the agent works
        handled.set()

    discord = connector_for(fake)
    runtime = AgentRuntime(
        [discord], [discord], silent, store=InMemoryStore(), handle_signals=False
    )
    task = asyncio.ensure_future(runtime.run())
    try:
        await runtime.wait_started()
        await fake.wait_ready(1)
        await fake.post_user_message(fake.channel_id, "say nothing", mention_bot=True)
        await asyncio.wait_for(handled.wait(), 5)
        for _ in range(500):  # the runner's complete() hook stops typing, no reply needed
            if not len(discord._typing):
                break
            await asyncio.sleep(0.01)
        assert not len(discord._typing)
        assert fake.messages_in(fake.channel_id) == []
    finally:
        await runtime.stop()
        await task
