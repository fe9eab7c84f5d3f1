"""FakeDiscord: the server, its world (guilds, channels, users, messages), test hooks."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from agent_runner.testing.discord.files import DiscordFiles
from agent_runner.testing.discord.gateway import (
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    Gateway,
    GatewaySession,
    GatewayStats,
)
from agent_runner.testing.discord.interactions import Interactions
from agent_runner.testing.discord.payloads import (
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMessage,
    FakeUser,
    RecordedEdit,
    SnowflakeFactory,
    content_visible,
)
from agent_runner.testing.discord.rest import API_VERSION, RateLimitRule, RestApi


class FakeDiscord:
    """A local Discord (REST v10 + gateway) with one bot account, a guild and a channel.

    Args:
        token: the bot token the server accepts (``Authorization: Bot <token>``).
        bot_name: the bot account's username.
        heartbeat_interval: seconds, sent in HELLO (small values exercise heartbeats).
        message_content_allowed: whether the bot may ask for the privileged
            MESSAGE_CONTENT intent (if not, IDENTIFY with it is closed with 4014).
        clock: stamps :attr:`sent_at` and :attr:`edits` (inject a test clock).
        host: interface to listen on.

    The default guild (:attr:`guild_id`) has one text channel (:attr:`channel_id`); add
    more with :meth:`add_channel`, :meth:`add_thread`, :meth:`add_dm`.
    """

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        bot_name: str = "agent-bot",
        heartbeat_interval: float = 1.0,
        message_content_allowed: bool = True,
        clock: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self.clock = clock
        self.sent_at: list[float] = []  # when the bot posted each message, on the clock
        self.edits: list[RecordedEdit] = []  # its message edits, stamped on the clock
        self.interactions = Interactions(self)  # button presses and the bot's answers
        self._host = host
        self._ids = SnowflakeFactory()
        self.bot = FakeUser(id=self._ids(), username=bot_name, bot=True)
        self.user = FakeUser(id=self._ids(), username="alice", global_name="Alice")
        self.application_id = self.bot.id
        guild = FakeGuild(id=self._ids(), name="Test Guild", bot_role_id=self._ids())
        self.guilds: dict[str, FakeGuild] = {guild.id: guild}
        self.channels: dict[str, FakeChannel] = {}
        self.guild_id = guild.id
        self.channel_id = self.add_channel("general").id
        self.messages: dict[str, list[FakeMessage]] = {}
        self.typing: dict[str, int] = {}
        self.requests: list[tuple[str, str]] = []
        self._by_id: dict[str, FakeMessage] = {}
        self.rate_limited = 0  # how many 429 responses were sent
        self._changed = asyncio.Event()
        self._started_at = datetime.now(UTC)
        allowed = None if message_content_allowed else ~INTENT_MESSAGE_CONTENT & ((1 << 26) - 1)
        self._gateway = Gateway(
            token=token,
            heartbeat_interval=heartbeat_interval,
            ready_payload=self._ready_payload,
            guild_payloads=self._guild_payloads,
            notify=self._notify,
            allowed_intents=allowed,
        )
        self._rest = RestApi(self)
        self.files = DiscordFiles(self)  # the CDN, users' files and the bot's uploads
        self._runner: web.AppRunner | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on a free port of ``host``."""
        app = web.Application()
        app.router.add_get("/gateway", self._gateway.handle)
        app.router.add_route("*", "/api/v{version}/{path:.*}", self._rest.handle)
        app.router.add_get("/attachments/{id}/{name}", self.files.serve)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, 0).start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        if self._runner is not None:
            await self._gateway.close()
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The REST base, like ``https://discord.com/api/v10``."""
        return f"http://{self._host}:{self._port}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        """The gateway websocket URL, like ``wss://gateway.discord.gg/``."""
        return f"ws://{self._host}:{self._port}/gateway"

    def env(self) -> dict[str, str]:
        """``DISCORD_TOKEN``, ``DISCORD_API_BASE`` and ``DISCORD_GATEWAY_URL`` for this server."""
        return {
            "DISCORD_TOKEN": self.token,
            "DISCORD_API_BASE": self.url,
            "DISCORD_GATEWAY_URL": self.gateway_url,
        }

    @property
    def stats(self) -> GatewayStats:
        """Gateway counters: identifies, resumes, heartbeats, connections, invalid_sessions,
        identified_shards, shard_overlaps."""
        return self._gateway.stats

    def shard_sessions(self, shard_id: int) -> int:
        """How many sessions of shard ``shard_id`` are connected now (one, for a healthy bot)."""
        return len(self._gateway.connected(shard_id))

    # -- the world -------------------------------------------------------------------
    def add_channel(self, name: str, *, guild_id: str | None = None) -> FakeChannel:
        """Add a text channel to a guild (the default guild unless given)."""
        guild = self.guilds[guild_id or next(iter(self.guilds))]
        channel = FakeChannel(
            id=self._ids(), name=name, guild_id=guild.id, position=len(guild.channels)
        )
        guild.channels.append(channel)
        self.channels[channel.id] = channel
        return channel

    def add_thread(self, parent_id: str, name: str = "thread") -> FakeChannel:
        """Add a public thread under a text channel."""
        parent = self.channels[parent_id]
        assert parent.guild_id is not None
        thread = FakeChannel(
            id=self._ids(),
            name=name,
            guild_id=parent.guild_id,
            parent_id=parent.id,
            is_thread=True,
        )
        self.guilds[parent.guild_id].channels.append(thread)
        self.channels[thread.id] = thread
        return thread

    def add_dm(self, user: FakeUser | None = None) -> FakeChannel:
        """Open a direct-message channel between ``user`` (default :attr:`user`) and the bot."""
        channel = FakeChannel(id=self._ids(), name="dm", guild_id=None, recipient=user or self.user)
        self.channels[channel.id] = channel
        return channel

    def add_guild(self, name: str, *, shard: tuple[int, int] | None = None) -> FakeGuild:
        """Add a guild (sent in GUILD_CREATE to sessions identified afterwards); with
        ``shard=(shard_id, shard_count)``, one whose id routes to that shard."""
        guild_id = self._ids.in_shard(*shard) if shard else self._ids()
        guild = FakeGuild(id=guild_id, name=name, bot_role_id=self._ids())
        self.guilds[guild.id] = guild
        return guild

    def new_user(self, username: str, *, bot: bool = False) -> FakeUser:
        """A new user (``bot=True`` for another bot account)."""
        return FakeUser(id=self._ids(), username=username, bot=bot)

    # -- acting as users -------------------------------------------------------------
    async def post_user_message(
        self,
        channel_id: str,
        content: str,
        *,
        author: FakeUser | None = None,
        mention_bot: bool = False,
        mention_bot_role: bool = False,
        reply_to: str | None = None,
        attachments: Iterable[tuple[str, str] | FakeAttachment] = (),
        webhook: bool = False,
        created_at: datetime | None = None,
    ) -> FakeMessage:
        """Post a message as a user (default :attr:`user`) and dispatch MESSAGE_CREATE.

        Args:
            channel_id: where.
            content: the text; with ``mention_bot`` it is prefixed by ``<@bot_id> ``.
            author: who writes it (``new_user("other", bot=True)`` for another bot).
            mention_bot: mention the bot (in the content and in ``mentions``).
            mention_bot_role: mention the bot's managed role instead (``<@&role_id>``), as
                users do when they pick the bot's role from Discord's autocomplete.
            reply_to: id of a message this one replies to.
            attachments: ``(filename, url)`` pairs, or attachments (``files.store``).
            webhook: post as a webhook (author is then a bot-like webhook user).
            created_at: backdate the message (its snowflake id encodes the time): to test
                how a bot treats old messages. Keep backdated ids in posting order.

        The message is stored in the channel's history even when no bot is connected
        (so a bot that comes back can backfill it).
        """
        author = author or self.user
        mentions: tuple[FakeUser, ...] = ()
        roles: tuple[str, ...] = ()
        if mention_bot:
            content = f"<@{self.bot.id}> {content}"
            mentions = (self.bot,)
        channel = self.channels[channel_id]
        if mention_bot_role and channel.guild_id is not None:
            role = self.guilds[channel.guild_id].bot_role_id
            content = f"<@&{role}> {content}"
            roles = (role,)
        files = self.files.attachments(attachments)
        message = FakeMessage(
            id=self._ids(created_at),
            channel_id=channel_id,
            guild_id=self.channels[channel_id].guild_id,
            author=author,
            content=content,
            reply_to=reply_to,
            mentions=mentions,
            mention_roles=roles,
            attachments=files,
            webhook_id=self._ids() if webhook else None,
        )
        await self._store_and_dispatch(message)
        return message

    async def press_button(
        self, message: FakeMessage, custom_id: str, *, user: FakeUser | None = None
    ) -> str:
        """A user presses a button of ``message``: INTERACTION_CREATE; the interaction id."""
        return await self.interactions.press(message, custom_id, user or self.user)

    # -- reading what the bot did ----------------------------------------------------
    def messages_in(self, channel_id: str) -> list[FakeMessage]:
        """What the bot sent in a channel, oldest first."""
        return [m for m in self.messages.get(channel_id, []) if m.author.id == self.bot.id]

    def history(self, channel_id: str) -> list[FakeMessage]:
        """Every message of a channel, oldest first."""
        return list(self.messages.get(channel_id, []))

    def get_message(self, message_id: str) -> FakeMessage | None:
        return self._by_id.get(message_id)

    async def wait_until(self, predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` holds (re-checked after every change of state)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    async def wait_for_messages(
        self,
        channel_id: str,
        count: int,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[FakeMessage]:
        """Wait until the bot sent at least ``count`` messages in the channel; return them."""
        await self.wait_until(lambda: len(self.messages_in(channel_id)) >= count, timeout=timeout)
        return self.messages_in(channel_id)

    async def wait_ready(self, count: int = 1, *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``count`` IDENTIFYs were answered with READY (and GUILD_CREATE)."""
        await self.wait_until(lambda: self.stats.identifies >= count, timeout=timeout)

    async def wait_resumed(self, count: int = 1, *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``count`` RESUMEs succeeded."""
        await self.wait_until(lambda: self.stats.resumes >= count, timeout=timeout)

    async def wait_typing(self, channel_id: str, count: int = 1, *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until the bot triggered typing ``count`` times in the channel."""
        await self.wait_until(lambda: self.typing.get(channel_id, 0) >= count, timeout=timeout)

    # -- misbehaving -----------------------------------------------------------------
    async def drop_gateway(self, *, code: int = 4000) -> int:
        """Close every gateway connection from the server (clients should resume)."""
        dropped = await self._gateway.drop(code=code)
        self._notify()
        return dropped

    @contextlib.asynccontextmanager
    async def gateway_outage(
        self, *, code: int = 4000, invalidate: bool = False
    ) -> AsyncIterator[None]:
        """Drop the gateway and hold reconnections until the block ends.

        Messages posted inside the block are kept for the sessions and replayed when
        they resume. With ``invalidate``, the sessions get INVALID_SESSION instead and
        are ended: messages posted inside the block are then only in channel history
        (what a bot's backfill is for).
        """
        self._gateway.accepting.clear()
        try:
            if invalidate:
                await self.invalidate_session(resumable=False)
                await self.wait_until(lambda: not self._gateway.open_sockets)
            else:
                await self.drop_gateway(code=code)
            yield
        finally:
            self._gateway.accepting.set()

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Send INVALID_SESSION to connected bots (a non-resumable one forces IDENTIFY)."""
        await self._gateway.invalidate(resumable=resumable)

    async def request_reconnect(self) -> None:
        """Send RECONNECT (opcode 7): clients reconnect and resume."""
        await self._gateway.reconnect()

    def rate_limit_next(
        self,
        count: int,
        *,
        retry_after: float = 0.05,
        is_global: bool = False,
        scope: str = "messages",
        after: int = 0,
    ) -> None:
        """Answer the next ``count`` matching requests with 429 Too Many Requests.

        ``scope``: ``"messages"`` (POST .../messages), ``"edits"`` (PATCH one), ``"typing"``,
        ``"history"`` (GET .../messages) or ``"all"``. Responses carry Discord's headers
        (``X-RateLimit-*``, ``Retry-After``, ``Via``) and body (``retry_after``, ``global``).
        ``after`` lets that many through first (to fail, say, a long reply's second part).
        """
        if scope not in ("messages", "edits", "typing", "history", "all"):
            raise ValueError(f"unknown scope {scope!r}")
        self._rest.limits.append(RateLimitRule(after, count, retry_after, is_global, scope))

    # -- internals -------------------------------------------------------------------
    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def _ready_payload(self, session: GatewaySession) -> dict[str, Any]:
        return {
            "v": API_VERSION,
            "user": self.bot.payload() | {"verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": g, "unavailable": True} for g in self.guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
        }

    def _guild_payloads(self) -> list[dict[str, Any]]:
        return [g.payload(self.bot, joined_at=self._started_at) for g in self.guilds.values()]

    async def _store_and_dispatch(self, message: FakeMessage) -> None:
        self.messages.setdefault(message.channel_id, []).append(message)
        self._by_id[message.id] = message
        self.channels[message.channel_id].last_message_id = message.id
        referenced = self._by_id.get(message.reply_to) if message.reply_to else None
        is_dm = message.guild_id is None
        for session in self._gateway.sessions_for(message.guild_id):
            wanted = INTENT_DIRECT_MESSAGES if is_dm else INTENT_GUILD_MESSAGES
            if not session.intents & wanted:
                continue
            full = session.intents & INTENT_MESSAGE_CONTENT
            content = None if full or content_visible(message, self.bot.id) else ""
            payload = message.payload(referenced=referenced, content=content)
            await session.dispatch("MESSAGE_CREATE", payload)
        self._notify()


__all__ = ["FakeDiscord"]
