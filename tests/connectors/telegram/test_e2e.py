"""End to end: AgentRuntime + TelegramConnector (real python-telegram-bot) <-> FakeTelegram."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from agent_runner import AgentContext, Message
from agent_runner.store import SQLiteStore
from agent_runner.testing.telegram import MAX_TEXT, FakeMessage, FakeTelegram
from agent_runner.testing.telegram.objects import utf16_len
from tests.connectors._agents import Chooser
from tests.connectors._clock import ManualClock
from tests.connectors.telegram._fixtures import free_port, running_bot


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def test_a_private_message_is_answered_once_as_a_reply_with_typing(
    fake: FakeTelegram,
) -> None:
    typing_seen = asyncio.Event()

    async def slow_echo(message: Message, context: AgentContext) -> str:
        await fake.wait_until(lambda: (fake.private.id, "typing") in fake.actions)
        typing_seen.set()
        return f"echo: {message.text}"

    async with running_bot(fake, slow_echo):
        asked = fake.send_user_message(fake.private, "hello <there> & you")
        await fake.wait_for_messages(fake.private, 1)
        later = fake.send_user_message(fake.private, "later")
        await fake.wait_for_messages(fake.private, 2)
    assert typing_seen.is_set()
    first, second = fake.sent_in(fake.private)
    assert (first.text, first.reply_to_id) == ("echo: hello <there> & you", asked.message_id)
    assert (second.text, second.reply_to_id) == ("echo: later", later.message_id)
    assert fake.sent_in(fake.group) == []


async def test_in_groups_only_mentions_replies_and_its_commands_are_answered(
    fake: FakeTelegram,
) -> None:
    other_group = fake.add_group("Elsewhere")
    async with running_bot(fake, chat_ids=[fake.group.id]) as bot:
        fake.send_user_message(fake.group, "just chatting")
        fake.send_user_message(fake.group, "not for you", command="ask@other_bot")
        fake.send_user_message(fake.group, "unknown command", command="weather")
        fake.send_user_message(other_group, "not this group", mention_bot=True)
        mention = fake.send_user_message(fake.group, "by mention", mention_bot=True)
        [answer] = await fake.wait_for_messages(fake.group, 1)
        reply = fake.send_user_message(fake.group, "by reply", reply_to=answer)
        command = fake.send_user_message(fake.group, "by command", command="ask")
        addressed = fake.send_user_message(
            fake.group, "by addressed command", command="ask@agent_bot"
        )
        await fake.wait_for_messages(fake.group, 4)
        assert bot.me is not None and bot.me.username == "agent_bot"
    texts = {m.reply_to_id: m.text for m in fake.sent_in(fake.group)}
    assert texts == {
        mention.message_id: "echo: by mention",
        reply.message_id: "echo: by reply",
        command.message_id: "echo: by command",
        addressed.message_id: "echo: by addressed command",
    }
    assert fake.sent_in(other_group) == []


async def test_the_bot_ignores_itself_and_other_bots(fake: FakeTelegram) -> None:
    other_bot = fake.new_user("Chatty", "chatty_bot", bot=True)
    async with running_bot(fake):
        fake.send_user_message(fake.group, "ping", author=other_bot, mention_bot=True)
        itself = fake.send_user_message(fake.group, "I am you", author=fake.bot, mention_bot=True)
        human = fake.send_user_message(fake.group, "hi", mention_bot=True)
        await fake.wait_for_messages(fake.group, 2)
        sentinel = fake.send_user_message(fake.group, "still there?", mention_bot=True)
        await fake.wait_for_messages(fake.group, 3)
    answers = [m for m in fake.sent_in(fake.group) if m is not itself]
    assert [(m.text, m.reply_to_id) for m in answers] == [
        ("echo: hi", human.message_id),
        ("echo: still there?", sentinel.message_id),
    ]


async def test_a_long_reply_is_split_in_order_with_code_intact_and_html_that_parses(
    fake: FakeTelegram,
) -> None:
    lines = "\n".join(f"    print('line {i:03d}') # a < b && c" for i in range(300))
    answer = (
        "Intro with <tags> & **bold**.\n\n"
        + "Words here. " * 400
        + f"\n\n```python\ndef f():\n{lines}\n```\n\nDone."
    )
    assert len(answer) > 3 * MAX_TEXT

    async def long(message: Message, context: AgentContext) -> str:
        return answer

    async with running_bot(fake, long):
        asked = fake.send_user_message(fake.private, "long please")
        await fake.wait_until(lambda: any("Done." in m.text for m in fake.sent_in(fake.private)))
    parts = fake.sent_in(fake.private)
    assert len(parts) >= 4
    assert parts[0].reply_to_id == asked.message_id
    assert all(utf16_len(p.text) <= MAX_TEXT for p in parts)
    assert all(p.html is not None for p in parts)  # sent as HTML, and the fake parsed it
    text = "\n".join(p.text for p in parts)
    assert text.startswith("Intro with <tags> & bold.") and text.endswith("Done.")
    positions = [text.index(f"line {i:03d}") for i in range(300)]
    assert positions == sorted(positions)
    code_parts = [p for p in parts if "line " in p.text]
    assert all(p.html is not None and "<pre><code" in p.html for p in code_parts)


async def test_a_429_storm_is_waited_out_within_the_cap(fake: FakeTelegram) -> None:
    fake.rate_limit_next(4, retry_after=0.05)
    async with running_bot(fake, max_retry_after=1.0) as bot:
        asked = fake.send_user_message(fake.private, "storm")
        [reply] = await fake.wait_for_messages(fake.private, 1)
        assert bot.rate_limit_waits == [0.05] * 4
    assert (reply.text, reply.reply_to_id) == ("echo: storm", asked.message_id)
    assert fake.rate_limited == 4
    assert [m for m, status in fake.requests if status == 200].count("sendMessage") == 1


async def test_a_wait_over_the_cap_is_not_taken_and_the_bot_goes_on(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    fake.rate_limit_next(1, retry_after=3600)
    async with running_bot(fake, max_retry_after=1.0) as bot:
        fake.send_user_message(fake.private, "patience")
        await fake.wait_until(lambda: fake.rate_limited == 1)
        after = fake.send_user_message(fake.private, "after")
        [reply] = await fake.wait_for_messages(fake.private, 1)
        assert bot.rate_limit_waits == []  # an hour was over the cap: not slept
    assert (reply.text, reply.reply_to_id) == ("echo: after", after.message_id)
    assert "Telegram sendMessage: rate limited, asks 3600s" in caplog.text


async def test_a_restart_answers_what_came_meanwhile_once_and_nothing_twice(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    path = tmp_path / "bot.db"
    async with running_bot(fake, store=SQLiteStore(path)):
        fake.send_user_message(fake.private, "one")
        await fake.wait_for_messages(fake.private, 1)
    fake.send_user_message(fake.private, "two, while down")
    async with running_bot(fake, store=SQLiteStore(path)):
        await fake.wait_for_messages(fake.private, 2)
        fake.send_user_message(fake.private, "three")
        await fake.wait_for_messages(fake.private, 3)
    # A crash before the offset moved on: Telegram serves the updates again, and the
    # journal answers none of them twice.
    store = SQLiteStore(path)
    await store.open()
    await store.cursor_set("telegram:telegram:123456:offset", "1")
    await store.close()
    assert fake.requeue_all() == 3
    async with running_bot(fake, store=SQLiteStore(path)):
        fake.send_user_message(fake.private, "four")
        await fake.wait_until(
            lambda: any(m.text == "echo: four" for m in fake.sent_in(fake.private))
        )
    assert [m.text for m in fake.sent_in(fake.private)] == [
        "echo: one",
        "echo: two, while down",
        "echo: three",
        "echo: four",
    ]


async def test_webhook_updates_are_answered_once_even_when_telegram_retries(
    fake: FakeTelegram,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    async with running_bot(
        fake, mode="webhook", webhook_url=url, webhook_secret="s3cret", webhook_port=port
    ):
        await fake.wait_until(lambda: fake.webhook_url == url)
        asked = fake.send_user_message(fake.private, "via webhook")
        [reply] = await fake.wait_for_messages(fake.private, 1)
        [(update_id, status)] = fake.deliveries
        assert status == 200
        assert await fake.deliver(update_id) == 200  # Telegram sends it again
        async with aiohttp.ClientSession() as session:
            body = {"update_id": 1, "message": asked.payload()}
            async with session.post(url, json=body) as response:
                assert response.status == 401  # no secret token
            headers = {"X-Telegram-Bot-Api-Secret-Token": "wrong"}
            async with session.post(url, json=body, headers=headers) as response:
                assert response.status == 401
        sentinel = fake.send_user_message(fake.private, "after the retry")
        await fake.wait_for_messages(fake.private, 2)
    assert reply.reply_to_id == asked.message_id
    assert [m.text for m in fake.sent_in(fake.private)] == [
        "echo: via webhook",
        "echo: after the retry",
    ]
    assert fake.sent_in(fake.private)[1].reply_to_id == sentinel.message_id


async def streamed(fake: FakeTelegram, clock: ManualClock, words: list[str]) -> FakeMessage:
    """Run a bot whose agent streams ``words``, a chunk every 250 ms; the one reply."""

    async def streamer(message: Message, context: AgentContext) -> str:
        for word in words:
            clock.advance(0.25)
            await context.stream(word)
        return "".join(words).strip()

    async with running_bot(fake, streamer, stream_interval=1.0, clock=clock):
        fake.send_user_message(fake.private, "stream it")
        whole = "".join(words).strip()
        await fake.wait_until(lambda: any(m.text == whole for m in fake.sent_in(fake.private)))
    [message] = fake.sent_in(fake.private)
    return message


async def test_streamed_replies_are_throttled_edits_and_end_whole() -> None:
    clock = ManualClock()
    async with FakeTelegram(clock=clock) as fake:
        words = [f"word{i:02d} " for i in range(40)]
        message = await streamed(fake, clock, words)
    assert message.text == "".join(words).strip()
    times = [fake.sent_at[0], *(e.at for e in message.edits)]
    gaps = [b - a for a, b in zip(times, times[1:-1], strict=False)]
    assert len(gaps) >= 5 and all(gap >= 1.0 for gap in gaps)  # at most one edit a second
    assert len(message.edits) <= 10 + 1  # 10 s of streaming, plus the final edit


async def test_a_429_while_streaming_slows_the_edits_and_loses_nothing() -> None:
    clock = ManualClock()
    async with FakeTelegram(clock=clock) as fake:
        fake.rate_limit_next(1, retry_after=3, method="editMessageText")
        words = [f"w{i} " for i in range(40)]
        message = await streamed(fake, clock, words)
    assert fake.rate_limited == 1
    edits = [e.at for e in message.edits[:-1]]
    gaps = [b - a for a, b in zip(edits, edits[1:], strict=False)]
    assert gaps and all(gap >= 2.0 for gap in gaps)  # after the 429: half as often
    assert message.text == "".join(words).strip()


async def test_a_button_press_reaches_the_agent_and_is_acknowledged(fake: FakeTelegram) -> None:
    chooser = Chooser()
    async with running_bot(fake, chooser):
        fake.send_user_message(fake.private, "deploy please")
        [offer] = await fake.wait_for_messages(fake.private, 1)
        assert offer.buttons == [("Yes", "deploy:yes"), ("No", "deploy:no")]
        query_id = fake.press_button(offer, "deploy:yes")
        await fake.wait_for_messages(fake.private, 2)
        await fake.wait_until(lambda: query_id in fake.answered_callbacks)
    press = chooser.seen[-1]
    assert press.text == "deploy:yes" and press.author.id == str(fake.user.id)
    assert press.conversation_id == str(fake.private.id)
    assert press.metadata["button"] == {
        "value": "deploy:yes",
        "label": "Yes",
        "message_id": offer.message_id,
        "callback_query_id": query_id,
    }
    answer = fake.sent_in(fake.private)[1]
    assert (answer.text, answer.reply_to_id) == ("you chose deploy:yes", offer.message_id)
