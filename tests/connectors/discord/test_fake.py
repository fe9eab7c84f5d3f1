"""The fake Discord itself: REST shapes, 429s, history paging, and a plain discord.py bot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
import yarl

from agent_runner import AgentContext, AgentRuntime, Message
from agent_runner.store import InMemoryStore
from agent_runner.testing.discord import FakeDiscord
from connectors.discord import DiscordConnector
from connectors.discord.sdk import discord
from tests.connectors.discord._fixtures import RecordingSink, running


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(heartbeat_interval=0.02) as server:
        yield server


@pytest.fixture
async def http(fake: FakeDiscord) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        yield session


async def test_rest_answers_json_with_the_exact_content_type(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{fake.url}/users/@me") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        assert (await response.json())["id"] == fake.bot.id
    async with http.get(f"{fake.url}/gateway/bot") as response:
        data = await response.json()
        assert data["url"] == fake.gateway_url and data["shards"] == 1
    async with http.get(f"{fake.url}/channels/404/messages") as response:
        assert response.status == 404 and (await response.json())["message"]
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(f"{fake.url}/users/@me") as response:
            assert response.status == 401


async def test_rate_limited_responses_carry_discords_headers(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    fake.rate_limit_next(1, retry_after=2.5, is_global=True)
    url = f"{fake.url}/channels/{fake.channel_id}/messages"
    async with http.post(url, json={"content": "hi"}) as response:
        assert response.status == 429
        headers = response.headers
        assert headers["Retry-After"] == "3"
        assert headers["X-RateLimit-Remaining"] == "0"
        assert float(headers["X-RateLimit-Reset-After"]) == 2.5
        assert headers["X-RateLimit-Global"] == "true"
        assert headers["Via"]  # without it discord.py assumes a Cloudflare ban
        body = await response.json()
        assert body["retry_after"] == 2.5 and body["global"] is True
    async with http.post(url, json={"content": "hi"}) as response:
        assert response.status == 200


async def test_history_pages_like_discord(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    posted = [await fake.post_user_message(fake.channel_id, f"m{i}") for i in range(5)]
    ids = [m.id for m in posted]
    url = f"{fake.url}/channels/{fake.channel_id}/messages"

    async def page(**query: str) -> list[str]:
        async with http.get(url, params=query) as response:
            return [m["id"] for m in await response.json()]

    assert await page(limit="2") == [ids[4], ids[3]]  # newest first
    assert await page(after=ids[0], limit="2") == [ids[2], ids[1]]  # just after, newest first
    assert await page(before=ids[4], limit="2") == [ids[3], ids[2]]


async def test_message_limits_are_enforced(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    url = f"{fake.url}/channels/{fake.channel_id}/messages"
    async with http.post(url, json={"content": "x" * 2001}) as response:
        assert response.status == 400 and (await response.json())["code"] == 50035
    async with http.post(url, json={"content": "  "}) as response:
        assert response.status == 400 and (await response.json())["code"] == 50006
    reference = {"message_id": "123", "channel_id": fake.channel_id}
    async with http.post(url, json={"content": "a", "message_reference": reference}) as response:
        assert response.status == 400 and (await response.json())["code"] == 10008
    assert fake.messages_in(fake.channel_id) == []


async def test_heartbeats_reconnect_and_resume(fake: FakeDiscord) -> None:
    sink = RecordingSink()
    async with running(fake, sink):
        await fake.wait_until(lambda: fake.stats.heartbeats >= 3)
        await fake.request_reconnect()
        await fake.wait_resumed()
        await fake.post_user_message(fake.channel_id, "still here", mention_bot=True)
        await sink.wait_for(1)
    assert fake.stats.identifies == 1


async def test_a_plain_discord_py_bot_runs_against_the_fake(
    fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", fake.url)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
    )
    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.01)
    ready = asyncio.Event()

    @client.event
    async def on_ready() -> None:
        ready.set()

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author != client.user:
            await message.reply(f"pong: {message.content}")

    task = asyncio.ensure_future(client.start(fake.token))
    try:
        async with asyncio.timeout(5):
            await ready.wait()
        sent = await fake.post_user_message(fake.channel_id, "ping")
        [reply] = await fake.wait_for_messages(fake.channel_id, 1)
    finally:
        await client.close()
        await task
    assert reply.content == "pong: ping" and reply.reply_to == sent.id


async def echo(message: Message, context: AgentContext) -> str:
    return f"echo: {message.text}"


async def test_the_documented_example_with_a_connector_built_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeDiscord() as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        bot = DiscordConnector(guild_ready_timeout=0.1)
        runtime = AgentRuntime([bot], [bot], echo, store=InMemoryStore(), handle_signals=False)
        task = asyncio.create_task(runtime.run())
        await fake.wait_ready()
        asked = await fake.post_user_message(fake.channel_id, "hi", mention_bot=True)
        [reply] = await fake.wait_for_messages(fake.channel_id, 1)
        assert reply.content == "echo: hi" and reply.reply_to == asked.id
        await runtime.stop()
        await task
