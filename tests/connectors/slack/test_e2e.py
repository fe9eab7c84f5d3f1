"""End to end: AgentRuntime + SlackConnector (real slack_sdk) <-> FakeSlack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from agent_runner import AgentContext, Message
from agent_runner.store import SQLiteStore
from agent_runner.testing.slack import MAX_SECTION_TEXT, FakeSlack, FakeSlackMessage
from tests.connectors._agents import Chooser
from tests.connectors._clock import ManualClock
from tests.connectors.slack._fixtures import running_bot
from tests.connectors.telegram._fixtures import free_port


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        yield server


async def test_a_mention_is_answered_once_in_its_thread_and_a_dm_in_place(
    fake: FakeSlack,
) -> None:
    async with running_bot(fake):
        asked = await fake.post_user_message(fake.channel, "hello <b> & you", mention_bot=True)
        dm = await fake.post_user_message(fake.dm, "in private")
        [reply] = await fake.wait_for_messages(fake.channel, 1)
        [private] = await fake.wait_for_messages(fake.dm, 1)
        later = await fake.post_user_message(fake.channel, "later", mention_bot=True)
        await fake.wait_for_messages(fake.channel, 2)
    # The mention came as `message` and `app_mention`: answered once, in the thread.
    assert (reply.text, reply.thread_ts) == ("echo: hello &lt;b&gt; &amp; you", asked.ts)
    assert reply.metadata == {
        "event_type": "agent_runner_reply",
        "event_payload": {"reply_to": f"slack:{fake.channel}:{asked.ts}", "part": 1, "parts": 1},
    }
    assert (private.text, private.thread_ts) == ("echo: in private", None)
    assert private.metadata is not None
    assert private.metadata["event_payload"]["reply_to"] == f"slack:{fake.dm}:{dm.ts}"
    assert [m.thread_ts for m in fake.sent_in(fake.channel)] == [asked.ts, later.ts]


async def test_channels_where_the_bot_is_not_addressed_are_ignored(fake: FakeSlack) -> None:
    other = fake.add_channel("C0OTHER")
    async with running_bot(fake, channel_ids=[fake.channel]):
        await fake.post_user_message(fake.channel, "just chatting")
        await fake.post_user_message(other, "not this channel", mention_bot=True)
        asked = await fake.post_user_message(fake.channel, "for you", mention_bot=True)
        await fake.wait_for_messages(fake.channel, 1)
        sentinel = await fake.post_user_message(fake.channel, "again", mention_bot=True)
        await fake.wait_for_messages(fake.channel, 2)
    assert [(m.text, m.thread_ts) for m in fake.sent_in(fake.channel)] == [
        ("echo: for you", asked.ts),
        ("echo: again", sentinel.ts),
    ]
    assert fake.sent_in(other) == []


async def test_the_bot_ignores_itself_and_other_bots(fake: FakeSlack) -> None:
    other_bot = fake.new_user("chatty", bot=True)
    async with running_bot(fake):
        await fake.post_user_message(fake.channel, "ping", user=other_bot, mention_bot=True)
        await fake.post_user_message(fake.dm, "beep", user=other_bot)
        await fake.post_user_message(fake.dm, "hi")
        await fake.wait_for_messages(fake.dm, 1)
        await fake.post_user_message(fake.dm, "still there?")
        await fake.wait_for_messages(fake.dm, 2)
    # Its own replies came back as `message` events in the DM and were not answered.
    assert [m.text for m in fake.sent_in(fake.dm)] == ["echo: hi", "echo: still there?"]
    assert fake.sent_in(fake.channel) == []


async def test_a_long_reply_is_split_in_order_with_code_intact(fake: FakeSlack) -> None:
    lines = "\n".join(f"    print('line {i:03d}') # a < b" for i in range(300))
    answer = (
        "Intro <!channel> & **bold**.\n\n"
        + "Words here. " * 500
        + f"\n\n```python\n{lines}\n```\n\nDone."
    )

    async def long(message: Message, context: AgentContext) -> str:
        return answer

    async with running_bot(fake, long):
        asked = await fake.post_user_message(fake.channel, "long", mention_bot=True)
        await fake.wait_until(lambda: any("Done." in m.text for m in fake.sent_in(fake.channel)))
    parts = fake.sent_in(fake.channel)
    assert len(parts) >= 5
    assert all(p.thread_ts == asked.ts and len(p.text) <= MAX_SECTION_TEXT for p in parts)
    assert all(p.text.count("```") % 2 == 0 for p in parts)
    assert [p.metadata["event_payload"]["part"] for p in parts if p.metadata] == list(
        range(1, len(parts) + 1)
    )
    text = "\n".join(p.text for p in parts)
    assert text.startswith("Intro &lt;!channel&gt; &amp; *bold*.") and text.endswith("Done.")
    positions = [text.index(f"line {i:03d}") for i in range(300)]
    assert positions == sorted(positions)


async def test_a_429_storm_is_waited_out_within_the_cap(fake: FakeSlack) -> None:
    fake.rate_limit_next(4, retry_after=0.05)
    async with running_bot(fake, max_retry_after=1.0) as bot:
        asked = await fake.post_user_message(fake.dm, "storm")
        [reply] = await fake.wait_for_messages(fake.dm, 1)
        assert bot.rate_limit_waits == [0.05] * 4
    assert reply.text == "echo: storm" and fake.rate_limited == 4
    assert fake.requests.count(("chat.postMessage", "ok")) == 1
    assert asked.ts


async def test_a_restart_answers_what_came_meanwhile_once_and_nothing_twice(
    fake: FakeSlack, tmp_path: Path
) -> None:
    path = tmp_path / "bot.db"
    async with running_bot(fake, store=SQLiteStore(path)):
        await fake.post_user_message(fake.dm, "one")
        await fake.wait_for_messages(fake.dm, 1)
    await fake.post_user_message(fake.dm, "two, while down")  # kept for the next connection
    async with running_bot(fake, store=SQLiteStore(path)):
        await fake.wait_for_messages(fake.dm, 2)
        # Slack sends every envelope again (as after lost acks): none is answered twice.
        for envelope_id in fake.envelope_ids:
            await fake.resend_envelope(envelope_id)
        await fake.post_user_message(fake.dm, "three")
        await fake.wait_for_messages(fake.dm, 3)
    assert [m.text for m in fake.sent_in(fake.dm)] == [
        "echo: one",
        "echo: two, while down",
        "echo: three",
    ]


async def test_events_api_is_signed_verified_and_a_retry_is_answered_once(fake: FakeSlack) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/slack/events"
    fake.use_events_api(url)
    async with running_bot(fake, mode="events", events_port=port):
        assert await fake.verify_url("abc123") == "abc123"
        asked = await fake.post_user_message(fake.channel, "via events", mention_bot=True)
        [reply] = await fake.wait_for_messages(fake.channel, 1)
        event_id = fake.deliveries[-1][0]
        assert await fake.deliver_again(event_id, retry=1) == 200
        async with aiohttp.ClientSession() as session:
            forged = {"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=00"}
            async with session.post(url, json={"type": "event_callback"}, headers=forged) as r:
                assert r.status == 401
        sentinel = await fake.post_user_message(fake.channel, "after", mention_bot=True)
        await fake.wait_for_messages(fake.channel, 2)
    assert (reply.text, reply.thread_ts) == ("echo: via events", asked.ts)
    assert [m.text for m in fake.sent_in(fake.channel)] == ["echo: via events", "echo: after"]
    assert fake.sent_in(fake.channel)[1].thread_ts == sentinel.ts


async def streamed(fake: FakeSlack, clock: ManualClock, words: list[str]) -> FakeSlackMessage:
    async def streamer(message: Message, context: AgentContext) -> str:
        for word in words:
            clock.advance(0.25)
            await context.stream(word)
        return "".join(words).strip()

    async with running_bot(fake, streamer, stream_interval=1.0, clock=clock):
        await fake.post_user_message(fake.dm, "stream it")
        whole = "".join(words).strip()
        await fake.wait_until(lambda: any(m.text == whole for m in fake.sent_in(fake.dm)))
    [message] = fake.sent_in(fake.dm)
    return message


async def test_streamed_replies_are_throttled_updates_and_end_whole() -> None:
    clock = ManualClock()
    async with FakeSlack(clock=clock) as fake:
        fake.rate_limit_next(1, retry_after=3, method="chat.update")
        words = [f"word{i:02d} " for i in range(60)]
        message = await streamed(fake, clock, words)
    assert message.text == "".join(words).strip()
    assert fake.rate_limited == 1
    times = [fake.sent_at[0], *(u.at for u in message.updates[:-1])]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) >= 4 and all(gap >= 1.0 for gap in gaps)  # at most one update a second
    assert all(gap >= 2.0 for gap in gaps[2:])  # after the 429: half as often
    assert len(message.updates) <= 15 + 1


async def test_a_button_press_reaches_the_agent_and_is_acked(fake: FakeSlack) -> None:
    chooser = Chooser()
    async with running_bot(fake, chooser):
        asked = await fake.post_user_message(fake.channel, "deploy", mention_bot=True)
        [offer] = await fake.wait_for_messages(fake.channel, 1)
        assert offer.buttons == [("Yes", "deploy:yes"), ("No", "deploy:no")]
        acks = len(fake.acks)
        await fake.press_button(offer, "deploy:no")
        await fake.wait_for_messages(fake.channel, 2)
        await fake.wait_until(lambda: len(fake.acks) > acks)
    press = chooser.seen[-1]
    assert press.text == "deploy:no" and press.author.id == fake.user.id
    assert press.conversation_id == f"{fake.channel}:{asked.ts}"  # the thread's conversation
    assert press.metadata["button"] == {
        "value": "deploy:no",
        "label": "No",
        "action_id": "agent_runner_button_1",
        "message_ts": offer.ts,
    }
    answer = fake.sent_in(fake.channel)[1]
    assert (answer.text, answer.thread_ts) == ("you chose deploy:no", asked.ts)
