"""Discord bot throughput and latency on the fake Discord: runner+connector vs plain discord.py.

Both bots run in this process against the same FakeDiscord on 127.0.0.1 (REST + gateway):

- ``plain``: a discord.py ``Client`` whose ``on_message`` replies ``message.reply("echo: ...")``
  (no journal, no dedupe, no typing, no splitting) -- the baseline;
- ``runner``: ``DiscordConnector`` -> ``AgentRuntime`` (journal, per-conversation order, typing
  indicator, reply claim, split) with an echo agent, on InMemoryStore and on SQLite (FULL).

Load: N mentions spread over C channels, posted at once; throughput = N / time to N replies.
Latency: 200 sequential round trips (post, wait for the reply), p50/p99.
Usage: python bench/bench_discord.py [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yarl

from agent_runner import AgentContext, AgentRuntime, Message  # noqa: E402
from agent_runner.store import InMemoryStore, SQLiteStore, Store  # noqa: E402
from agent_runner.testing.discord import FakeDiscord  # noqa: E402
from connectors.discord import DiscordConnector, DiscordSettings  # noqa: E402
from connectors.discord.sdk import discord  # noqa: E402

QUICK = "--quick" in sys.argv
N = 300 if QUICK else 1000
CHANNELS = 10
ROUND_TRIPS = 50 if QUICK else 200


async def echo(message: Message, context: AgentContext) -> str:
    return f"echo: {message.text}"


@contextlib.asynccontextmanager
async def plain_bot(fake: FakeDiscord):
    discord.http.Route.BASE = fake.url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.01)

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author != client.user:
            await message.reply(f"echo: {message.content}")

    task = asyncio.ensure_future(client.start(fake.token))
    await fake.wait_ready()
    try:
        yield
    finally:
        await client.close()
        await task


@contextlib.asynccontextmanager
async def runner_bot(fake: FakeDiscord, store: Store):
    connector = DiscordConnector(
        token=fake.token,
        api_base=fake.url,
        gateway_url=fake.gateway_url,
        guild_ready_timeout=0.01,
        settings=DiscordSettings.model_construct(),
        mentions_only=False,
    )
    runtime = AgentRuntime([connector], [connector], echo, store=store, handle_signals=False)
    task = asyncio.ensure_future(runtime.run())
    await runtime.wait_started()
    await fake.wait_ready()
    try:
        yield
    finally:
        await runtime.stop()
        await task


def bot_replies(fake: FakeDiscord, channels: list[str]) -> int:
    return sum(len(fake.messages_in(c)) for c in channels)


async def measure(make_bot) -> tuple[float, float, float]:
    async with FakeDiscord(heartbeat_interval=10) as fake:
        channels = [fake.channel_id] + [fake.add_channel(f"c{i}").id for i in range(CHANNELS - 1)]
        async with make_bot(fake):
            # latency: sequential round trips in one channel
            lat = []
            for i in range(ROUND_TRIPS):
                before = bot_replies(fake, channels)
                t0 = time.perf_counter()
                await fake.post_user_message(channels[0], f"rt {i}", mention_bot=True)
                await fake.wait_until(
                    lambda before=before: bot_replies(fake, channels) > before, timeout=30
                )
                lat.append(time.perf_counter() - t0)
            base = bot_replies(fake, channels)
            t0 = time.perf_counter()
            for i in range(N):
                await fake.post_user_message(channels[i % CHANNELS], f"m {i}", mention_bot=True)
            await fake.wait_until(lambda: bot_replies(fake, channels) >= base + N, timeout=120)
            elapsed = time.perf_counter() - t0
    lat.sort()
    return N / elapsed, statistics.median(lat) * 1000, lat[int(len(lat) * 0.99) - 1] * 1000


async def main() -> None:
    rows = []
    plain = await measure(plain_bot)
    rows.append(("plain discord.py (baseline)", plain))
    rows.append(("runner + InMemoryStore", await measure(lambda f: runner_bot(f, InMemoryStore()))))
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(
            (
                "runner + SQLite (FULL)",
                await measure(lambda f: runner_bot(f, SQLiteStore(Path(tmp) / "b.sqlite3"))),
            )
        )
    print(f"{'bot':32} {'msgs/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs plain':>9}")
    for name, (rate, p50, p99) in rows:
        print(f"{name:32} {rate:8.0f} {p50:8.2f} {p99:8.2f} {rate / plain[0]:8.0%}")


asyncio.run(main())
