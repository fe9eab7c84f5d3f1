"""Media end to end on Discord: real discord.py and openai clients against FakeDiscord and a
local chat-completions server.

A picture a user posts reaches a vision model as an image part (its CDN URL, which is public);
the agent's files reach the channel as multipart uploads, split over messages past 10 files
or 10 MiB; a file past the limit is refused before anything is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent_runner import AgentContext, AgentRuntime, File, Message, Reply
from agent_runner.errors import UploadRefusedError
from agent_runner.llm import LLMAgent, OpenAIClient
from agent_runner.outbound import OutboundGuard
from agent_runner.store import InMemoryStore
from agent_runner.testing.discord import FakeDiscord
from connectors.discord.media import batches
from tests.connectors.discord._fixtures import connector_for
from tests.llm.openai_server import OpenAIServer, text
from tests.media.agents import STREAMED_TEXT, streaming_chart
from tests.media.images import png


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(heartbeat_interval=0.05) as server:
        yield server


@contextlib.asynccontextmanager
async def bot(fake: FakeDiscord, agent: Any) -> AsyncIterator[AgentRuntime]:
    discord = connector_for(fake, stream=False)
    runtime = AgentRuntime([discord], [discord], agent, store=InMemoryStore(), handle_signals=False)
    identified = fake.stats.identifies
    task = asyncio.ensure_future(runtime.run())
    try:
        await runtime.wait_started()
        await fake.wait_ready(identified + 1)
        yield runtime
    finally:
        await runtime.stop()
        await task


async def test_a_posted_picture_reaches_the_vision_model_as_an_image_part(
    fake: FakeDiscord,
) -> None:
    picture = png()
    async with OpenAIServer(model="gpt-4o-mini") as model:
        model.script(text("A red square."))
        client = OpenAIClient(
            model="gpt-4o-mini", base_url=model.base_url, api_key=model.api_key, max_retries=0
        )
        agent = LLMAgent(client, system_prompt="Describe pictures.")
        async with bot(fake, agent):
            asked = await fake.files.post_user_files(
                fake.channel_id, "what is this?", [("shot.png", picture)], mention_bot=True
            )
            [answer] = await fake.wait_for_messages(fake.channel_id, 1)
    assert (answer.content, answer.reply_to) == ("A red square.", asked.id)
    [body] = model.requests
    parts = body["messages"][-1]["content"]
    [url] = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert url == asked.attachments[0].url  # public: the model fetches it itself


async def test_an_agent_fetches_a_posted_file_from_the_cdn(
    fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_RUNNER_OUTBOUND_ALLOW", "127.0.0.1")  # the fake CDN is local
    sizes: list[int] = []

    async def measure(message: Message, context: AgentContext) -> str:
        for attachment in message.attachments:
            sizes.append((await context.media.fetch(attachment)).size)
        return "measured"

    async with bot(fake, measure):
        await fake.files.post_user_files(
            fake.channel_id, "", [("notes.txt", b"x" * 300)], mention_bot=True
        )
        await fake.wait_for_messages(fake.channel_id, 1)
    assert sizes == [300]
    assert len(fake.files.downloads) == 1
    assert OutboundGuard.from_env().allow_networks  # the test's allowance, not a default


async def test_the_agents_files_are_uploaded_and_split_past_ten_a_message(
    fake: FakeDiscord,
) -> None:
    chart = png()

    async def draw(message: Message, context: AgentContext) -> Reply:
        files = [File(name=f"chart-{n}.png", data=chart) for n in range(12)]
        return Reply(text="Twelve charts.", files=tuple(files))

    async with bot(fake, draw):
        asked = await fake.post_user_message(fake.channel_id, "draw", mention_bot=True)
        words, first, second = await fake.wait_for_messages(fake.channel_id, 3)
    assert (words.content, words.reply_to) == ("Twelve charts.", asked.id)
    assert [len(first.attachments), len(second.attachments)] == [10, 2]
    assert first.attachments[0].filename == "chart-0.png"
    assert first.attachments[0].content_type == "image/png"
    assert fake.files.data[second.attachments[1].id] == chart
    assert len(fake.files.uploads) == 12


async def test_a_file_past_discords_limit_is_refused_before_anything_is_sent(
    fake: FakeDiscord,
) -> None:
    big = File(name="movie.mp4", data=b"\0" * (10 * 1024 * 1024 + 1))
    with pytest.raises(UploadRefusedError) as refused:
        batches([File(name="ok.txt", data=b"fine"), big])
    assert str(refused.value) == ("movie.mp4: 10.0 MiB is over Discord's upload limit of 10.0 MiB")
    connector = connector_for(fake)
    await connector.open()
    try:
        request = Message.parse(
            {
                "id": "1",
                "conversation_id": fake.channel_id,
                "source": "discord",
                "author": {"id": "1"},
                "text": "send it",
                "metadata": {"channel_id": fake.channel_id},
            }
        )
        with pytest.raises(UploadRefusedError):
            await connector.send(request, Reply(text="here", files=(big,)))
    finally:
        await connector.close()
    assert fake.messages.get(fake.channel_id, []) == []


async def test_the_fake_refuses_an_oversize_upload_as_discord_does(fake: FakeDiscord) -> None:
    """What a bot that skips the check gets: 413 from the fake."""
    import discord

    from connectors.discord.media import discord_files

    connector = connector_for(fake)
    await connector.open()
    try:
        client = connector._client  # the connector's discord.py client
        assert client is not None
        channel = client.get_partial_messageable(int(fake.channel_id))
        files = await discord_files([File(name="big.bin", data=b"\0" * (10 * 1024 * 1024 + 1))])
        with pytest.raises(discord.HTTPException) as refused:
            await channel.send(files=files)
    finally:
        await connector.close()
    assert refused.value.status == 413


async def test_a_streamed_reply_keeps_its_files_after_the_text(fake: FakeDiscord) -> None:
    chart = png()

    discord = connector_for(fake)  # streaming on
    runtime = AgentRuntime(
        [discord], [discord], streaming_chart(chart), store=InMemoryStore(), handle_signals=False
    )
    task = asyncio.ensure_future(runtime.run())
    try:
        await runtime.wait_started()
        await fake.wait_ready()
        await fake.post_user_message(fake.channel_id, "draw", mention_bot=True)
        words, upload = await fake.wait_for_messages(fake.channel_id, 2)
        await fake.wait_until(lambda: words.content == STREAMED_TEXT)
    finally:
        await runtime.stop()
        await task
    assert fake.edits  # it was streamed: posted with the first words, then edited whole
    assert [a.filename for a in upload.attachments] == ["chart.png"]
    assert fake.files.data[upload.attachments[0].id] == chart
    assert len(fake.messages_in(fake.channel_id)) == 2
