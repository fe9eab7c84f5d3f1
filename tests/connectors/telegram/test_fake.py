"""FakeTelegram speaks the Bot API as python-telegram-bot expects: a plain SDK bot against it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agent_runner.testing.telegram import FakeTelegram
from connectors.telegram.sdk import telegram


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(fake.token, base_url=f"{fake.url}/bot") as sdk_bot:
        yield sdk_bot


async def test_get_me_and_a_wrong_token(fake: FakeTelegram, bot: telegram.Bot) -> None:
    assert (bot.id, bot.username) == (fake.bot.id, "agent_bot")
    with pytest.raises(telegram.error.InvalidToken):
        async with telegram.Bot("1:wrong", base_url=f"{fake.url}/bot"):
            pass


async def test_updates_stay_until_an_offset_confirms_them(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    fake.send_user_message(fake.private, "one")
    fake.send_user_message(fake.private, "two")
    first = await bot.get_updates(timeout=0)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    again = await bot.get_updates(timeout=0)  # not confirmed yet: served again
    assert [u.update_id for u in again] == [u.update_id for u in first]
    assert await bot.get_updates(offset=first[-1].update_id + 1, timeout=0) == ()
    waiting = asyncio.ensure_future(bot.get_updates(offset=first[-1].update_id + 1, timeout=5))
    await fake.wait_until(lambda: fake.polls == 4)
    fake.send_user_message(fake.private, "three")  # the long poll answers at once
    [late] = await asyncio.wait_for(waiting, 2)
    assert late.message is not None and late.message.text == "three"


async def test_a_second_poller_ends_the_first_with_a_conflict(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    first = asyncio.ensure_future(bot.get_updates(timeout=5))
    await fake.wait_until(lambda: fake.polls == 1)
    async with telegram.Bot(fake.token, base_url=f"{fake.url}/bot") as other:
        second = asyncio.ensure_future(other.get_updates(timeout=0.2))
        with pytest.raises(telegram.error.Conflict):
            await first
        assert await second == ()


async def test_polling_while_a_webhook_is_set_conflicts(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    await bot.set_webhook("http://127.0.0.1:9/hook", secret_token="s")
    assert (await bot.get_webhook_info()).url == "http://127.0.0.1:9/hook"
    with pytest.raises(telegram.error.Conflict):
        await bot.get_updates(timeout=0)
    await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == ()


async def test_html_that_does_not_parse_is_refused_like_telegram(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    for broken in ("<b>open", "a < b", "fish & chips", "<blink>x</blink>"):
        with pytest.raises(telegram.error.BadRequest, match="(?i)can't parse entities"):
            await bot.send_message(fake.private.id, broken, parse_mode="HTML")
    sent = await bot.send_message(fake.private.id, "<b>ok</b> &lt;3", parse_mode="HTML")
    assert fake.sent_in(fake.private)[0].text == "ok <3" and sent.text == "ok <3"
    with pytest.raises(telegram.error.BadRequest, match="(?i)too long"):
        await bot.send_message(fake.private.id, "x" * 4097)
    with pytest.raises(telegram.error.BadRequest, match="(?i)chat not found"):
        await bot.send_message(42, "nobody")


async def test_edits_are_recorded_and_an_identical_edit_is_refused(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    sent = await bot.send_message(fake.private.id, "draft")
    await bot.edit_message_text("final", chat_id=fake.private.id, message_id=sent.message_id)
    with pytest.raises(telegram.error.BadRequest, match="(?i)not modified"):
        await bot.edit_message_text("final", chat_id=fake.private.id, message_id=sent.message_id)
    [edit] = fake.edits
    assert (edit.message_id, edit.text) == (sent.message_id, "final")


async def test_rate_limits_carry_retry_after(fake: FakeTelegram, bot: telegram.Bot) -> None:
    fake.rate_limit_next(1, retry_after=7)
    with pytest.raises(telegram.error.RetryAfter) as caught:
        await bot.send_message(fake.private.id, "hi")
    assert caught.value.retry_after.total_seconds() == 7  # type: ignore[union-attr]
    await bot.send_message(fake.private.id, "hi")
    assert fake.rate_limited == 1


async def test_buttons_callback_data_is_limited_to_64_bytes(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    too_long = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("x", callback_data="é" * 33)]]
    )
    with pytest.raises(telegram.error.BadRequest, match="(?i)button_data_invalid"):
        await bot.send_message(fake.private.id, "pick", reply_markup=too_long)
    markup = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("Go", callback_data="go")]]
    )
    await bot.send_message(fake.private.id, "pick", reply_markup=markup)
    [offer] = fake.sent_in(fake.private)
    query_id = fake.press_button(offer, "go")
    [update] = await bot.get_updates(timeout=0)
    assert update.callback_query is not None and update.callback_query.data == "go"
    assert await bot.answer_callback_query(query_id)
    assert fake.answered_callbacks == [query_id]
