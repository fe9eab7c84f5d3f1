"""A fake Discord on 127.0.0.1: REST API v10 and the gateway websocket, for offline bot tests.

It speaks the real wire protocol, so a real ``discord.py`` client (or any Discord library)
connects to it unchanged once pointed at its :attr:`FakeDiscord.url` (REST base) and
:attr:`FakeDiscord.gateway_url`. Tests act as the users of a guild (:meth:`post_user_message`)
and read what the bot sent (:meth:`messages_in`, :meth:`wait_for_messages`), and can make
Discord misbehave: drop the gateway (:meth:`drop_gateway`, :meth:`gateway_outage`), invalidate
the session, or answer the next requests with 429 (:meth:`rate_limit_next`).

What it serves: ``GET /gateway``, ``/gateway/bot``, ``/users/@me``,
``/oauth2/applications/@me``, ``/channels/{id}``, ``GET``/``POST /channels/{id}/messages``
(``before``/``after``/``limit``; replies by ``message_reference``; 2,000-character limit),
``POST /channels/{id}/typing``; the gateway: HELLO, IDENTIFY -> READY + GUILD_CREATE,
heartbeats, MESSAGE_CREATE with sequence numbers, RESUME -> replay + RESUMED,
INVALID_SESSION, RECONNECT; intents (no MESSAGE_CONTENT intent: guild messages that do not
mention the bot arrive with empty content, as on Discord).

Example:
    A complete test of a bot (pytest with pytest-asyncio)::

        import asyncio

        from agent_runner import AgentRuntime
        from agent_runner.store import InMemoryStore
        from agent_runner.testing.discord import FakeDiscord
        from connectors.discord import DiscordConnector

        async def echo(message, context):
            return f"echo: {message.text}"

        async def test_my_bot() -> None:
            async with FakeDiscord() as fake:
                bot = DiscordConnector(token=fake.token, api_base=fake.url,
                                       gateway_url=fake.gateway_url, guild_ready_timeout=0.1)
                runtime = AgentRuntime([bot], [bot], echo, store=InMemoryStore(),
                                       handle_signals=False)
                task = asyncio.create_task(runtime.run())
                await fake.wait_ready()
                asked = await fake.post_user_message(fake.channel_id, "hi", mention_bot=True)
                [reply] = await fake.wait_for_messages(fake.channel_id, 1)
                assert reply.content == "echo: hi" and reply.reply_to == asked.id
                await runtime.stop()
                await task

    A bot that builds its connector from the environment connects with
    ``monkeypatch.setenv`` of each item of :meth:`FakeDiscord.env`. A bot written with plain
    discord.py connects once the test sets ``discord.http.Route.BASE = fake.url`` and
    ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)`` (e.g.
    with ``monkeypatch.setattr``, which restores them afterwards).

Inside: ``server`` (:class:`FakeDiscord`), ``rest`` (the REST routes, error bodies and
rate-limit headers), ``gateway`` (the websocket sessions), ``payloads`` (users, guilds,
channels and messages as Discord's JSON), ``files`` (the CDN serving attachments, users'
files with ``fake.files.post_user_files``, the bot's multipart uploads in
``fake.files.uploads``, refused past 10 files a message or 10 MiB a file).
"""

from agent_runner.testing.discord.files import MAX_FILE_BYTES, MAX_FILES, DiscordFiles
from agent_runner.testing.discord.gateway import GatewayStats
from agent_runner.testing.discord.payloads import (
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMessage,
    FakeUser,
    RecordedEdit,
)
from agent_runner.testing.discord.rest import MAX_CONTENT
from agent_runner.testing.discord.server import FakeDiscord

__all__ = [
    "DiscordFiles",
    "FakeAttachment",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeMessage",
    "FakeUser",
    "GatewayStats",
    "MAX_CONTENT",
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "RecordedEdit",
]
