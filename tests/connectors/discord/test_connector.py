"""The Discord connector against the fake Discord: a real discord.py client over 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent_runner.connector import Accepted
from agent_runner.errors import (
    ConfigurationError,
    DeliveryError,
    RateLimitedError,
    StoreError,
)
from agent_runner.message import Author, Message, Reply
from agent_runner.store import InMemoryStore
from agent_runner.testing.discord import MAX_CONTENT, FakeDiscord
from connectors.discord import DiscordConnector, DiscordSettings
from connectors.discord.sdk import discord as discord_sdk
from tests.connectors.discord._fixtures import RecordingSink, connector_for, running


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(heartbeat_interval=0.05) as server:
        yield server


async def test_a_mention_arrives_as_a_message_and_the_reply_is_a_discord_reply(
    fake: FakeDiscord,
) -> None:
    sink = RecordingSink()
    async with running(fake, sink) as discord:
        posted = await fake.post_user_message(
            fake.channel_id,
            "what is 2+2?",
            mention_bot=True,
            attachments=[("a.png", "https://cdn.example/a.png")],
        )
        [message] = await sink.wait_for(1)
        assert message.id == posted.id
        assert message.source == "discord"
        assert message.conversation_id == fake.channel_id
        assert message.text == "what is 2+2?"
        assert message.author.id == fake.user.id and message.author.name == "Alice"
        assert not message.author.is_bot
        assert message.metadata == {
            "guild_id": fake.guild_id,
            "channel_id": fake.channel_id,
            "is_dm": False,
        }
        assert [a.url for a in message.attachments] == ["https://cdn.example/a.png"]
        assert message.attachments[0].filename == "a.png"
        await fake.wait_typing(fake.channel_id)  # shown while the agent works

        await discord.send(message, Reply(text="4"))
        [reply] = fake.messages_in(fake.channel_id)
        assert reply.content == "4"
        assert reply.reply_to == posted.id
    assert fake.stats.heartbeats >= 1


async def test_a_long_reply_arrives_in_order_within_the_limit_with_code_intact(
    fake: FakeDiscord,
) -> None:
    sink = RecordingSink()
    code = "\n".join(f"    total += compute({i})  # step {i}" for i in range(120))
    text = (
        "Here is the plan.\n\n"
        + "Some prose. " * 80
        + f"\n\n```python\ndef run():\n{code}\n```\n\n"
        + "And a conclusion. " * 60
    )
    assert len(text) > 5000
    async with running(fake, sink) as discord:
        await fake.post_user_message(fake.channel_id, "write code", mention_bot=True)
        [message] = await sink.wait_for(1)
        await discord.send(message, Reply(text=text))
    parts = fake.messages_in(fake.channel_id)
    assert len(parts) >= 3
    assert all(len(p.content) <= MAX_CONTENT for p in parts)
    assert all(p.content.count("```") % 2 == 0 for p in parts)
    assert [int(p.id) for p in parts] == sorted(int(p.id) for p in parts)
    assert parts[0].reply_to == message.id and all(p.reply_to is None for p in parts[1:])
    body = "\n".join(p.content for p in parts)
    for i in range(120):
        assert f"compute({i})" in body
    assert body.split()[:3] == ["Here", "is", "the"]


async def test_own_messages_are_dropped_and_other_bots_are_marked(fake: FakeDiscord) -> None:
    sink = RecordingSink()
    other_bot = fake.new_user("other-bot", bot=True)
    async with running(fake, sink, mentions_only=False) as discord:
        await fake.post_user_message(fake.channel_id, "first", mention_bot=True)
        [first] = await sink.wait_for(1)
        await discord.send(first, Reply(text="my own words"))  # echoed back by the gateway
        await fake.post_user_message(fake.channel_id, "beep", author=other_bot)
        await fake.post_user_message(fake.channel_id, "hook", webhook=True)
        messages = await sink.wait_for(3)
    assert [m.text for m in messages] == ["first", "beep", "hook"]
    assert [m.author.is_bot for m in messages] == [False, True, True]


async def test_scope_filters(fake: FakeDiscord) -> None:
    other = fake.add_channel("other")
    thread = fake.add_thread(fake.channel_id, "help")
    dm = fake.add_dm()
    sink = RecordingSink()
    async with running(fake, sink, channel_ids=[fake.channel_id]) as discord:
        await fake.post_user_message(fake.channel_id, "no mention")  # mentions only
        await fake.post_user_message(other.id, "elsewhere", mention_bot=True)  # channel filter
        await fake.post_user_message(thread.id, "in thread", mention_bot=True)
        await fake.post_user_message(dm.id, "in dm")  # DMs need no mention
        await fake.post_user_message(fake.channel_id, "mentioned", mention_bot=True)
        messages = await sink.wait_for(3)
        assert [m.text for m in messages] == ["in thread", "in dm", "mentioned"]
        in_thread, in_dm, mentioned = messages
        assert in_thread.conversation_id == thread.id
        assert in_thread.metadata["parent_channel_id"] == fake.channel_id
        assert in_dm.metadata["is_dm"] is True and in_dm.metadata["guild_id"] is None
        # A reply to the bot's message counts as addressed to it.
        await discord.send(mentioned, Reply(text="yes?"))
        [bot_message] = fake.messages_in(fake.channel_id)
        await fake.post_user_message(fake.channel_id, "follow-up", reply_to=bot_message.id)
        follow = (await sink.wait_for(4))[3]
        assert follow.text == "follow-up" and follow.reply_to == bot_message.id
        # Replies to thread and DM messages go where they came from.
        await discord.send(in_thread, Reply(text="thread answer"))
        await discord.send(in_dm, Reply(text="dm answer"))
    assert [m.content for m in fake.messages_in(thread.id)] == ["thread answer"]
    assert [m.content for m in fake.messages_in(dm.id)] == ["dm answer"]


async def test_direct_messages_off_and_guild_filter(fake: FakeDiscord) -> None:
    dm = fake.add_dm()
    other_guild = fake.add_guild("elsewhere")
    far = fake.add_channel("far", guild_id=other_guild.id)
    sink = RecordingSink()
    async with running(
        fake, sink, direct_messages=False, guild_ids=[fake.guild_id], mentions_only=False
    ):
        await fake.post_user_message(dm.id, "dm")
        await fake.post_user_message(far.id, "other guild", mention_bot=True)
        await fake.post_user_message(fake.channel_id, "here")
        await sink.wait_for(1)
    assert sink.texts() == ["here"]


async def test_without_message_content_intent_only_mentions_carry_text(
    fake: FakeDiscord,
) -> None:
    sink = RecordingSink()
    async with running(fake, sink, mentions_only=False, message_content=False):
        await fake.post_user_message(fake.channel_id, "invisible chatter")
        await fake.post_user_message(fake.channel_id, "visible", mention_bot=True)
        await sink.wait_for(1)
    assert sink.texts() == ["visible"]


async def test_refused_intent_and_bad_token_are_configuration_errors() -> None:
    async with FakeDiscord(message_content_allowed=False) as fake:
        connector = connector_for(fake)
        await connector.open()
        try:
            with pytest.raises(ConfigurationError, match="MESSAGE_CONTENT"):
                await asyncio.wait_for(connector.start(RecordingSink()), 5)
        finally:
            await connector.close()
        bad = connector_for(fake)
        bad._token = "wrong"
        with pytest.raises(ConfigurationError, match="token"):
            await bad.open()
        await bad.close()


async def test_a_burst_of_429s_is_waited_out_within_the_cap(fake: FakeDiscord) -> None:
    sink = RecordingSink()
    async with running(fake, sink) as discord:
        await fake.post_user_message(fake.channel_id, "hi", mention_bot=True)
        [message] = await sink.wait_for(1)
        fake.rate_limit_next(3, retry_after=0.02)
        await discord.send(message, Reply(text="after the storm"))
    assert fake.rate_limited == 3
    assert [m.content for m in fake.messages_in(fake.channel_id)] == ["after the storm"]


async def test_a_429_over_the_cap_fails_and_a_retry_resumes_after_the_sent_parts(
    fake: FakeDiscord,
) -> None:
    sink = RecordingSink()
    async with running(fake, sink) as discord:
        await fake.post_user_message(fake.channel_id, "long please", mention_bot=True)
        [message] = await sink.wait_for(1)
        text = "\n\n".join(f"paragraph {i} " + "x" * 1500 for i in range(3))
        fake.rate_limit_next(1, retry_after=60.0, after=1)  # the second part hits the wall
        with pytest.raises(RateLimitedError) as caught:
            await discord.send(message, Reply(text=text))
        assert caught.value.retry_after == 60.0
        assert len(fake.messages_in(fake.channel_id)) == 1
        await discord.send(message, Reply(text=text))  # the runner's retry
    parts = fake.messages_in(fake.channel_id)
    assert [p.content.split()[:2] for p in parts] == [
        ["paragraph", "0"],
        ["paragraph", "1"],
        ["paragraph", "2"],
    ]


async def test_replies_to_other_inputs_go_to_the_post_channel(fake: FakeDiscord) -> None:
    news = fake.add_channel("news")
    cron = Message(
        id="tick-1", conversation_id="daily", source="cron", author=Author(id="cron"), text="go"
    )
    async with running(fake, RecordingSink(), post_channel_id=news.id) as discord:
        await discord.send(cron, Reply(text="Good morning!"))
        await discord.send(
            cron, Reply(text="elsewhere", metadata={"discord_channel_id": fake.channel_id})
        )
    [posted] = fake.messages_in(news.id)
    assert posted.content == "Good morning!" and posted.reply_to is None
    assert [m.content for m in fake.messages_in(fake.channel_id)] == ["elsewhere"]
    async with running(fake, RecordingSink()) as discord:
        with pytest.raises(DeliveryError, match="post_channel_id"):
            await discord.send(cron, Reply(text="nowhere"))


async def test_a_dropped_gateway_resumes_and_replays_what_was_missed(fake: FakeDiscord) -> None:
    sink = RecordingSink()
    async with running(fake, sink):
        await fake.post_user_message(fake.channel_id, "before", mention_bot=True)
        await sink.wait_for(1)
        async with fake.gateway_outage():
            await fake.post_user_message(fake.channel_id, "during", mention_bot=True)
        await fake.wait_resumed()
        await fake.post_user_message(fake.channel_id, "after", mention_bot=True)
        await sink.wait_for(3)
    assert sink.texts() == ["before", "during", "after"]
    assert sink.duplicates == 0
    assert fake.stats.identifies == 1 and fake.stats.resumes == 1


async def test_an_invalidated_session_reidentifies_and_backfills(fake: FakeDiscord) -> None:
    sink = RecordingSink()
    store = InMemoryStore()
    await store.open()
    async with running(fake, sink, store=store):
        await fake.post_user_message(fake.channel_id, "before", mention_bot=True)
        await sink.wait_for(1)
        async with fake.gateway_outage(invalidate=True):
            await fake.post_user_message(fake.channel_id, "lost in the gap", mention_bot=True)
        await fake.wait_ready(2)
        await sink.wait_for(2)
        await fake.post_user_message(fake.channel_id, "after", mention_bot=True)
        await sink.wait_for(3)
    assert sink.texts() == ["before", "lost in the gap", "after"]
    await store.close()


async def test_a_restart_backfills_what_arrived_while_down_and_nothing_older(
    fake: FakeDiscord,
) -> None:
    sink = RecordingSink()
    store = InMemoryStore()
    await store.open()
    async with running(fake, sink, store=store) as discord:
        await fake.post_user_message(fake.channel_id, "one", mention_bot=True)
        [one] = await sink.wait_for(1)
        await discord.send(one, Reply(text="answer one"))
    # Down: two mentions and some chatter arrive.
    await fake.post_user_message(fake.channel_id, "two", mention_bot=True)
    await fake.post_user_message(fake.channel_id, "chatter")
    await fake.post_user_message(fake.channel_id, "three", mention_bot=True)
    fresh = RecordingSink()
    async with running(fake, fresh, store=store):
        await fresh.wait_for(2)
        await fake.post_user_message(fake.channel_id, "four", mention_bot=True)
        await fresh.wait_for(3)
    assert fresh.texts() == ["two", "three", "four"]
    assert fresh.duplicates == 0
    await store.close()


async def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "secret-token")
    monkeypatch.setenv("DISCORD_CHANNEL_IDS", "1, 2,3")
    monkeypatch.setenv("DISCORD_MENTIONS_ONLY", "false")
    monkeypatch.setenv("DISCORD_API_BASE", "")
    settings = DiscordSettings.load()
    assert settings.channel_ids == (1, 2, 3)
    assert settings.mentions_only is False
    assert settings.api_base is None
    assert "secret-token" not in repr(settings)
    monkeypatch.setenv("DISCORD_BACKFILL_LIMIT", "many")
    with pytest.raises(ConfigurationError, match="DISCORD_"):
        DiscordSettings.load()


class FlakySink(RecordingSink):
    """Fails (like a store outage) the first time it is handed a given text."""

    def __init__(self, fail_on: str) -> None:
        super().__init__()
        self.fail_on: str | None = fail_on

    async def __call__(self, data: Message | Mapping[str, Any], /) -> Accepted:
        message = Message.parse(data)
        if message.text == self.fail_on:
            self.fail_on = None
            raise StoreError("journal unavailable")
        return await super().__call__(message)


async def test_a_failed_handoff_is_read_again_after_the_input_restarts(
    fake: FakeDiscord,
) -> None:
    store = InMemoryStore()
    await store.open()
    sink = FlakySink(fail_on="boom")
    connector = connector_for(fake)
    connector.bind_store(store)
    await connector.open()
    try:
        task = asyncio.ensure_future(connector.start(sink))
        await fake.wait_ready(1)
        await fake.post_user_message(fake.channel_id, "first", mention_bot=True)
        await sink.wait_for(1)
        await fake.post_user_message(fake.channel_id, "boom", mention_bot=True)
        await fake.post_user_message(fake.channel_id, "after", mention_bot=True)
        with pytest.raises(StoreError):
            await asyncio.wait_for(task, 5)
        task = asyncio.ensure_future(connector.start(sink))  # what the runner does
        await sink.wait_for(3)
        await connector.stop()
        await task
    finally:
        await connector.close()
        await store.close()
    assert sink.texts() == ["first", "boom", "after"]
    assert fake.stats.identifies == 2


async def test_a_token_is_required() -> None:
    with pytest.raises(ConfigurationError, match="DISCORD_TOKEN"):
        DiscordConnector(settings=DiscordSettings.model_construct())


async def test_missed_messages_older_than_the_max_age_are_skipped(fake: FakeDiscord) -> None:
    store = InMemoryStore()
    await store.open()
    now = datetime.now(UTC)
    first = RecordingSink()
    async with running(fake, first, store=store):
        await fake.post_user_message(
            fake.channel_id, "seen", mention_bot=True, created_at=now - timedelta(hours=3)
        )
        await first.wait_for(1)
    await fake.post_user_message(
        fake.channel_id, "stale", mention_bot=True, created_at=now - timedelta(hours=2)
    )
    await fake.post_user_message(fake.channel_id, "recent", mention_bot=True)
    fresh = RecordingSink()
    async with running(fake, fresh, store=store, backfill_max_age=3600.0):
        await fresh.wait_for(1)
        await fake.post_user_message(fake.channel_id, "live", mention_bot=True)
        await fresh.wait_for(2)
    assert fresh.texts() == ["recent", "live"]  # "stale" was read, judged too old, skipped
    await store.close()


async def test_a_failed_backfill_is_retried_and_skips_nothing(fake: FakeDiscord) -> None:
    store = InMemoryStore()
    await store.open()
    first = RecordingSink()
    async with running(fake, first, store=store):
        await fake.post_user_message(fake.channel_id, "one", mention_bot=True)
        await first.wait_for(1)
    await fake.post_user_message(fake.channel_id, "two", mention_bot=True)  # while down
    fake.rate_limit_next(1, retry_after=120.0, scope="history")  # the backfill fails
    fresh = RecordingSink()
    async with running(fake, fresh, store=store, backfill_retry=0.05):
        await fake.wait_until(lambda: fake.rate_limited == 1)
        await fake.post_user_message(fake.channel_id, "three", mention_bot=True)
        await fresh.wait_for(2)
    # Nothing lost, nothing handed over twice (the retry may come before or after "three").
    assert sorted(fresh.texts()) == ["three", "two"]
    again = RecordingSink()
    async with running(fake, again, store=store):
        await fake.post_user_message(fake.channel_id, "four", mention_bot=True)
        await again.wait_for(1)
    assert again.texts() == ["four"] and again.duplicates == 0
    await store.close()


async def test_two_bots_in_one_process_each_talk_to_their_own_server(fake: FakeDiscord) -> None:
    base, gateway = (
        discord_sdk.http.Route.BASE,
        discord_sdk.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )
    async with FakeDiscord(token="second-token") as other:
        sink_a, sink_b = RecordingSink(), RecordingSink()
        async with running(fake, sink_a) as a, running(other, sink_b) as b:
            await fake.post_user_message(fake.channel_id, "to a", mention_bot=True)
            await other.post_user_message(other.channel_id, "to b", mention_bot=True)
            [for_a] = await sink_a.wait_for(1)
            [for_b] = await sink_b.wait_for(1)
            await a.send(for_a, Reply(text="from a"))
            await b.send(for_b, Reply(text="from b"))
        assert [m.content for m in fake.messages_in(fake.channel_id)] == ["from a"]
        assert [m.content for m in other.messages_in(other.channel_id)] == ["from b"]
    # Nothing process-wide was changed.
    assert discord_sdk.http.Route.BASE == base
    assert discord_sdk.gateway.DiscordWebSocket.DEFAULT_GATEWAY == gateway


async def test_a_mention_of_the_bots_role_counts_as_a_mention(fake: FakeDiscord) -> None:
    sink = RecordingSink()
    async with running(fake, sink):
        await fake.post_user_message(fake.channel_id, "via the role", mention_bot_role=True)
        [message] = await sink.wait_for(1)
    assert message.text == "via the role"
