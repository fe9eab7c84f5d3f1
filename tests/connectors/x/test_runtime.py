"""The X bot end to end: AgentRuntime + XConnector + tweepy <-> the fake X on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import pytest

from agent_runner import AgentContext, AgentRuntime, Message
from agent_runner.store import InMemoryStore, SQLiteStore
from agent_runner.testing.x import X_LIMITS, FakeX
from connectors.x.text import MAX_TWEET_WEIGHT, split_thread, weighted_length
from tests.connectors.x._fixtures import (
    FakeClock,
    RecordingSink,
    clock,
    connector,
    fake_x,
    running,
    settle,
    x_retry,
)

__all__ = ["clock", "fake_x"]  # fixtures


ESSAY = " ".join(f"Paragraph {i} about 東京 and 🍣, see https://e.com/{i}." for i in range(30))


async def answer(message: Message, context: AgentContext) -> str:
    return f"you said: {message.text}"


async def test_a_mention_gets_exactly_one_threaded_reply(fake_x: FakeX, clock: FakeClock) -> None:
    async with running(connector(fake_x, clock)):
        await fake_x.wait_calls("mentions", 1)  # the first poll sets the starting point
        mention = fake_x.add_mention("what time is it?", author="alice")
        [reply] = await fake_x.wait_posted(1)
        await settle(fake_x)
    assert len(fake_x.posted) == 1
    assert reply.text == "you said: what time is it?"
    assert reply.in_reply_to_tweet_id == mention.id
    assert reply.conversation_id == mention.conversation_id


async def test_a_long_reply_arrives_as_an_ordered_thread(fake_x: FakeX, clock: FakeClock) -> None:
    async def essay(message: Message, context: AgentContext) -> str:
        return ESSAY

    async with running(connector(fake_x, clock), essay):
        await fake_x.wait_calls("mentions", 1)
        mention = fake_x.add_mention("tell me about Tokyo")
        parts = split_thread(ESSAY)
        await fake_x.wait_posted(len(parts))
        await settle(fake_x)
    thread = fake_x.thread(mention)
    assert len(thread) == len(fake_x.posted)
    assert all(weighted_length(t.text) <= MAX_TWEET_WEIGHT for t in thread)
    assert [t.text for t in thread] == parts
    assert " ".join(t.text.rsplit(" ", 1)[0] for t in thread) == ESSAY


async def test_the_bot_ignores_its_own_tweets(fake_x: FakeX, clock: FakeClock) -> None:
    handle = f"@{fake_x.me.username}"

    async def echo_with_handle(message: Message, context: AgentContext) -> str:
        return f"{handle} heard: {message.text}"  # our reply mentions ourselves

    async with running(connector(fake_x, clock), echo_with_handle):
        await fake_x.wait_calls("mentions", 1)
        fake_x.add_mention("note to self", author=fake_x.me.username)
        fake_x.add_mention("ping", author="bob")
        [reply] = await fake_x.wait_posted(1)
        await settle(fake_x)
    assert reply.text == f"{handle} heard: ping"
    assert len(fake_x.posted) == 1  # neither the self-mention nor our own reply was answered


async def test_a_restart_neither_misses_nor_repeats(
    fake_x: FakeX, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "bot.sqlite3"
    async with running(connector(fake_x, clock), store=SQLiteStore(path)):
        await fake_x.wait_calls("mentions", 1)
        first = fake_x.add_mention("first question", author="alice")
        await fake_x.wait_posted(1)
    # the bot is down: mentions keep arriving
    second = fake_x.add_mention("asked while you were down", author="bob")
    third = fake_x.add_mention("me too", author="carol")
    async with running(connector(fake_x, clock), store=SQLiteStore(path)):
        await fake_x.wait_posted(3)
        await settle(fake_x)
    assert [(t.in_reply_to_tweet_id, t.text) for t in fake_x.posted] == [
        (first.id, "you said: first question"),
        (second.id, "you said: asked while you were down"),
        (third.id, "you said: me too"),
    ]


async def test_a_burst_of_429s_is_waited_out_within_the_cap(
    fake_x: FakeX, clock: FakeClock
) -> None:
    x = connector(fake_x, clock, retry=x_retry(retries=5, max_retry_after=300, max_total=300))
    async with running(x):
        await fake_x.wait_calls("mentions", 1)
        fake_x.rate_limit_next(4, reset_in=60, endpoint="create_tweet")
        mention = fake_x.add_mention("busy?")
        [reply] = await fake_x.wait_posted(1)
        await settle(fake_x)
    assert reply.in_reply_to_tweet_id == mention.id and len(fake_x.posted) == 1
    assert fake_x.calls("create_tweet", status=429) == 4
    assert len(clock.sleeps) == 4 and sum(clock.sleeps) <= 300


async def test_the_daily_cap_stops_posting_with_a_clear_log_line(
    fake_x: FakeX, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.x")
    async with running(connector(fake_x, clock, daily_post_cap=1)):
        await fake_x.wait_calls("mentions", 1)
        fake_x.add_mention("one", author="alice")
        await fake_x.wait_posted(1)
        late = fake_x.add_mention("two", author="bob")
        await fake_x.wait_for(
            lambda: any("daily post cap" in r.getMessage() for r in caplog.records)
        )
        await settle(fake_x)
    assert len(fake_x.posted) == 1
    [line] = [
        r.getMessage()
        for r in caplog.records
        if r.name == "connectors.x" and "daily post cap" in r.getMessage()
    ]
    assert f"reply to x:{late.id}" in line and "1 of 1 tweets used" in line


async def test_dry_run_posts_nothing(
    fake_x: FakeX, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.x")
    async with running(connector(fake_x, clock, dry_run=True)):
        await fake_x.wait_calls("mentions", 1)
        fake_x.add_mention("hello?")
        await fake_x.wait_for(lambda: any("dry run" in r.getMessage() for r in caplog.records))
        await settle(fake_x)
    assert fake_x.posted == [] and fake_x.calls("create_tweet") == 0


async def test_a_cron_job_is_posted_as_a_standalone_tweet(fake_x: FakeX, clock: FakeClock) -> None:
    from connectors.cron import CronInput, CronJob

    cron = CronInput([CronJob(name="daily-post", text="write today's post", cron="0 9 * * *")])

    async def writer(message: Message, context: AgentContext) -> str:
        return "Good morning from the bot" if message.source == "cron" else "?"

    async with running(connector(fake_x, clock), writer, inputs=[cron], routes={"cron": ["x"]}):
        for _ in range(100):
            if cron.scheduler is not None:
                break
            await asyncio.sleep(0.01)
        assert await cron.fire("daily-post")
        [tweet] = await fake_x.wait_posted(1)
        await settle(fake_x)
    assert tweet.text == "Good morning from the bot"
    assert tweet.in_reply_to_tweet_id is None and len(fake_x.posted) == 1


async def test_a_loop_with_another_bot_stops_at_the_reply_depth_cap(
    fake_x: FakeX, clock: FakeClock
) -> None:
    """Another bot (not known as one) answers every reply of ours; the depth cap ends it."""

    async def other_bot() -> None:
        seen: list[str] = []
        while True:
            await fake_x.wait_for(lambda: len(fake_x.posted) > len(seen), timeout=30)
            for tweet in fake_x.posted[len(seen) :]:
                fake_x.add_mention("and you?", author="chatty_bot", in_reply_to=tweet)
                seen.append(tweet.id)

    x = connector(fake_x, clock)
    runtime = AgentRuntime(
        [x], [x], answer, store=InMemoryStore(), max_reply_depth=2, handle_signals=False
    )
    task = asyncio.create_task(runtime.run())
    await runtime.wait_started()
    await fake_x.wait_calls("mentions", 1)
    loop = asyncio.create_task(other_bot())
    fake_x.add_mention("hi both", author="alice")
    await fake_x.wait_posted(3)
    await settle(fake_x, polls=5)
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop
    await runtime.stop()
    await task
    assert len(fake_x.posted) == 3  # depth 0, 1, 2 answered; the depth-3 mention refused


async def test_polls_are_paced_to_the_rate_limit_window(clock: FakeClock) -> None:
    """With X's real limits (180 calls per 15 minutes), polls are spread to ~1 per 5 s."""
    async with FakeX(clock=clock, limits=X_LIMITS) as fake:
        x = connector(fake, clock, poll_interval=0.01)
        async with x:
            run = asyncio.create_task(x.start(RecordingSink()))
            await fake.wait_calls("mentions", 1)
            await asyncio.sleep(0.2)  # at 0.01 s per poll this would be ~20 more polls
            await x.stop()
            await run
    assert fake.calls("mentions") == 1
