"""Telegram and Slack bot throughput on their fakes: runner+connector vs a plain SDK echo bot.

Each pair runs in this process against the same fake on 127.0.0.1:

- Telegram, ``plain``: a python-telegram-bot ``Bot`` long-polling ``getUpdates`` and
  answering each batch with ``send_message`` replies, all of a batch at once (no journal, no
  offset store, no formatting, no typing) -- the baseline; ``runner``: ``TelegramConnector``
  -> ``AgentRuntime`` (journal, per-chat order, stored offset, HTML rendering, reply claim)
  with an echo agent.
- Slack, ``plain``: a slack_sdk ``SocketModeClient`` whose listener acks each envelope and
  posts ``chat_postMessage`` -- the baseline; ``runner``: ``SlackConnector`` -> ``AgentRuntime``
  (ack after journaling, thread replies with metadata, reply claim).

Runners run on InMemoryStore and on SQLite. Load: N messages over C private chats / DMs,
sent at once; throughput = N / time until N replies were posted.
Usage: python bench/bench_chat.py [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from agent_runner import AgentContext, AgentRuntime, Message
from agent_runner.store import InMemoryStore, SQLiteStore, Store
from agent_runner.testing.slack import FakeSlack
from agent_runner.testing.telegram import FakeTelegram
from connectors.slack import SlackConnector, SlackSettings
from connectors.telegram import TelegramConnector, TelegramSettings
from connectors.telegram.sdk import telegram

QUICK = "--quick" in sys.argv
N = 300 if QUICK else 1000
CHATS = 10


async def echo(message: Message, context: AgentContext) -> str:
    return f"echo: {message.text}"


@contextlib.asynccontextmanager
async def runner(connector: Any, store: Store) -> AsyncIterator[None]:
    runtime = AgentRuntime([connector], [connector], echo, store=store, handle_signals=False)
    task = asyncio.ensure_future(runtime.run())
    await runtime.wait_started()
    try:
        yield
    finally:
        await runtime.stop()
        await task


# -- Telegram ------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def plain_telegram(fake: FakeTelegram, store: Store) -> AsyncIterator[None]:
    async def poll(bot: telegram.Bot) -> None:
        offset = None
        while True:
            updates = await bot.get_updates(offset=offset, timeout=1)
            replies = [
                bot.send_message(
                    u.message.chat.id,
                    f"echo: {u.message.text}",
                    reply_parameters=telegram.ReplyParameters(u.message.message_id),
                )
                for u in updates
                if u.message is not None
            ]
            await asyncio.gather(*replies)
            if updates:
                offset = updates[-1].update_id + 1

    async with telegram.Bot(fake.token, base_url=f"{fake.url}/bot") as bot:
        task = asyncio.ensure_future(poll(bot))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def runner_telegram(fake: FakeTelegram, store: Store) -> AbstractAsyncContextManager[None]:
    connector = TelegramConnector(
        token=fake.token,
        api_base=fake.url,
        poll_timeout=1,
        settings=TelegramSettings.model_construct(),
    )
    return runner(connector, store)


async def measure_telegram(
    make_bot: Callable[[FakeTelegram, Store], AbstractAsyncContextManager[None]], store: Store
) -> float:
    async with FakeTelegram() as fake:
        chats = [fake.private_chat(fake.new_user(f"u{i}")) for i in range(CHATS)]
        async with make_bot(fake, store):

            def replies() -> int:
                return fake.sent_count

            fake.send_user_message(chats[0], "warm up")
            await fake.wait_until(lambda: replies() >= 1, timeout=30)
            t0 = time.perf_counter()
            for i in range(N):
                fake.send_user_message(chats[i % CHATS], f"m {i}")
            await fake.wait_until(lambda: replies() >= N + 1, timeout=300)
            return N / (time.perf_counter() - t0)


# -- Slack ---------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def plain_slack(fake: FakeSlack, store: Store) -> AsyncIterator[None]:
    web = AsyncWebClient(token=fake.bot_token, base_url=fake.url)
    socket = SocketModeClient(app_token=fake.app_token, web_client=web)

    async def listener(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        await client.send_socket_mode_response(SocketModeResponse(request.envelope_id))
        event = request.payload.get("event") or {}
        if event.get("type") == "message" and not event.get("bot_id"):
            await web.chat_postMessage(channel=event["channel"], text=f"echo: {event['text']}")

    socket.socket_mode_request_listeners.append(listener)
    await socket.connect()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        await socket.close()  # type: ignore[no-untyped-call]


def runner_slack(fake: FakeSlack, store: Store) -> AbstractAsyncContextManager[None]:
    connector = SlackConnector(
        bot_token=fake.bot_token,
        app_token=fake.app_token,
        api_base=fake.url,
        settings=SlackSettings.model_construct(),
    )
    return runner(connector, store)


async def measure_slack(
    make_bot: Callable[[FakeSlack, Store], AbstractAsyncContextManager[None]], store: Store
) -> float:
    async with FakeSlack() as fake:
        chats = [fake.add_channel(f"D0USER{i}") for i in range(CHATS)]
        async with make_bot(fake, store):
            await fake.wait_until(lambda: fake.connections >= 1, timeout=30)

            def replies() -> int:
                return fake.sent_count

            await fake.post_user_message(chats[0], "warm up")
            await fake.wait_until(lambda: replies() >= 1, timeout=30)
            t0 = time.perf_counter()
            for i in range(N):
                await fake.post_user_message(chats[i % CHATS], f"m {i}")
            await fake.wait_until(lambda: replies() >= N + 1, timeout=300)
            return N / (time.perf_counter() - t0)


async def main() -> None:
    print(f"{N} messages over {CHATS} chats, sent at once")
    print(f"{'bot':40} {'msgs/s':>8} {'vs plain':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for platform, measure, plain, ours in (
            ("Telegram", measure_telegram, plain_telegram, runner_telegram),
            ("Slack", measure_slack, plain_slack, runner_slack),
        ):
            base = await measure(plain, InMemoryStore())  # type: ignore[operator]
            rows = [(f"plain {platform} SDK echo (baseline)", base)]
            rows.append(
                (f"{platform} runner + InMemoryStore", await measure(ours, InMemoryStore()))  # type: ignore[operator]
            )
            sqlite = SQLiteStore(Path(tmp) / f"{platform}.sqlite3")
            rows.append((f"{platform} runner + SQLite", await measure(ours, sqlite)))  # type: ignore[operator]
            for name, rate in rows:
                print(f"{name:40} {rate:8.0f} {rate / base:8.0%}")


asyncio.run(main())
