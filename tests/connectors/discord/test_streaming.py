"""Streamed replies on Discord: throttled message edits, the final text whole, 429s slow them."""

from __future__ import annotations

import asyncio

from agent_runner import AgentContext, AgentRuntime, Message
from agent_runner.store import InMemoryStore
from agent_runner.testing.discord import FakeDiscord, FakeMessage
from tests.connectors._clock import ManualClock
from tests.connectors.discord._fixtures import connector_for


async def streamed(fake: FakeDiscord, clock: ManualClock, words: list[str]) -> list[FakeMessage]:
    """Run a bot whose agent streams ``words``, a chunk every 250 ms; the bot's messages."""

    async def streamer(message: Message, context: AgentContext) -> str:
        for word in words:
            clock.advance(0.25)
            await context.stream(word)
        return "".join(words).strip()

    discord = connector_for(fake, stream_interval=1.0, clock=clock)
    runtime = AgentRuntime(
        [discord], [discord], streamer, store=InMemoryStore(), handle_signals=False
    )
    task = asyncio.ensure_future(runtime.run())
    try:
        await runtime.wait_started()
        await fake.wait_ready()
        asked = await fake.post_user_message(fake.channel_id, "stream it", mention_bot=True)
        whole = "".join(words).strip()
        await fake.wait_until(
            lambda: any(m.content == whole for m in fake.messages_in(fake.channel_id))
        )
    finally:
        await runtime.stop()
        await task
    messages = fake.messages_in(fake.channel_id)
    assert [m.reply_to for m in messages] == [asked.id]
    return messages


async def test_streamed_replies_are_throttled_edits_and_end_whole() -> None:
    clock = ManualClock()
    async with FakeDiscord(clock=clock, heartbeat_interval=0.05) as fake:
        words = [f"word{i:02d} " for i in range(40)]
        [message] = await streamed(fake, clock, words)
    assert message.content == "".join(words).strip()
    times = [fake.sent_at[0], *(e.at for e in fake.edits[:-1])]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) >= 5 and all(gap >= 1.0 for gap in gaps)  # at most one edit a second
    assert len(fake.edits) <= 10 + 1  # 10 s of streaming, plus the final edit


async def test_a_429_while_streaming_is_waited_out_and_loses_nothing() -> None:
    clock = ManualClock()
    async with FakeDiscord(clock=clock, heartbeat_interval=0.05) as fake:
        fake.rate_limit_next(1, retry_after=0.3, scope="edits", after=1)
        words = [f"w{i} " for i in range(40)]
        [message] = await streamed(fake, clock, words)
    assert fake.rate_limited == 1
    assert message.content == "".join(words).strip()
    # discord.py waits a 429 out itself (within max_rate_limit_wait): that edit comes later.
    assert len(fake.edits) >= 3 and fake.edits[-1].content == message.content
