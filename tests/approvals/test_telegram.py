"""An approval answered with a button in a real chat client: AgentRuntime + TelegramConnector
(python-telegram-bot) <-> FakeTelegram (the Bot API over HTTP on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agent_runner.testing.telegram import FakeTelegram
from tests.approvals.support import APPROVAL_ID, make_agent
from tests.connectors.telegram._fixtures import running_bot


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def test_the_approve_button_resumes_the_turn_in_the_chat(fake: FakeTelegram) -> None:
    runs: list[str] = []
    agent, _ = make_agent(runs.append)
    async with running_bot(fake, agent):
        fake.send_user_message(fake.private, "send 500 to bob")
        [offer] = await fake.wait_for_messages(fake.private, 1)
        [approval_id] = APPROVAL_ID.findall(offer.text)
        assert offer.buttons == [
            ("Approve transfer", f"approve {approval_id}"),
            ("Deny transfer", f"deny {approval_id}"),
        ]
        assert runs == []
        query_id = fake.press_button(offer, f"approve {approval_id}")
        await fake.wait_for_messages(fake.private, 2)
        await fake.wait_until(lambda: query_id in fake.answered_callbacks)
    answer = fake.sent_in(fake.private)[1]
    assert (answer.text, answer.reply_to_id) == ("done: sent 500 to bob", offer.message_id)
    assert runs == ["bob:500"]
