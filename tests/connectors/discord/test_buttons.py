"""Buttons on Discord: components on the reply, a press reaches the agent and is acknowledged."""

from __future__ import annotations

import asyncio

from agent_runner import AgentRuntime
from agent_runner.store import InMemoryStore
from agent_runner.testing.discord import FakeDiscord
from connectors.discord.buttons import DEFERRED_UPDATE
from tests.connectors._agents import Chooser
from tests.connectors.discord._fixtures import connector_for


async def test_a_button_press_reaches_the_agent_and_is_acknowledged() -> None:
    chooser = Chooser()
    async with FakeDiscord(heartbeat_interval=0.05) as fake:
        discord = connector_for(fake)
        runtime = AgentRuntime(
            [discord], [discord], chooser, store=InMemoryStore(), handle_signals=False
        )
        task = asyncio.ensure_future(runtime.run())
        try:
            await runtime.wait_started()
            await fake.wait_ready()
            await fake.post_user_message(fake.channel_id, "deploy", mention_bot=True)
            [offer] = await fake.wait_for_messages(fake.channel_id, 1)
            assert offer.buttons == [("Yes", "deploy:yes"), ("No", "deploy:no")]
            pressed = await fake.press_button(offer, "deploy:yes")
            await fake.wait_for_messages(fake.channel_id, 2)
            await fake.wait_until(lambda: pressed in fake.interactions.responses)
        finally:
            await runtime.stop()
            await task
    press = chooser.seen[-1]
    assert press.text == "deploy:yes" and press.author.id == fake.user.id
    assert press.conversation_id == fake.channel_id
    assert press.metadata["button"] == {
        "value": "deploy:yes",
        "label": "Yes",
        "message_id": offer.id,
        "interaction_id": pressed,
    }
    assert fake.interactions.responses == {pressed: DEFERRED_UPDATE}
    answer = fake.messages_in(fake.channel_id)[1]
    assert (answer.content, answer.reply_to) == ("you chose deploy:yes", offer.id)
