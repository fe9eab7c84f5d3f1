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
    ::

        from agent_runner.testing.discord import FakeDiscord
        from connectors.discord import DiscordConnector

        async def test_my_bot() -> None:
            async with FakeDiscord() as discord:
                bot = DiscordConnector(token=discord.token, api_base=discord.url,
                                       gateway_url=discord.gateway_url)
                ...  # run it (e.g. in an AgentRuntime)
                await discord.wait_ready()
                await discord.post_user_message(discord.channel_id, "hi", mention_bot=True)
                [reply] = await discord.wait_for_messages(discord.channel_id, 1)
                assert reply.reply_to is not None

    A bot written with plain discord.py connects once the test sets
    ``discord.http.Route.BASE = discord_fake.url`` and
    ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(discord_fake.gateway_url)``
    (e.g. with pytest's ``monkeypatch.setattr``, which restores them afterwards).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from agent_runner.testing._discord_gateway import (
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    Gateway,
    GatewaySession,
    GatewayStats,
)
from agent_runner.testing._discord_payloads import (
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMessage,
    FakeUser,
    SnowflakeFactory,
)

MAX_CONTENT = 2000
"""Discord's limit on a message's content, in characters."""
API_VERSION = 10
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(slots=True)
class _RateLimit:
    skip: int
    remaining: int
    retry_after: float
    is_global: bool
    scope: str


class FakeDiscord:
    """A local Discord (REST v10 + gateway) with one bot account, a guild and a channel.

    Args:
        token: the bot token the server accepts (``Authorization: Bot <token>``).
        bot_name: the bot account's username.
        heartbeat_interval: seconds, sent in HELLO (small values exercise heartbeats).
        message_content_allowed: whether the bot may ask for the privileged
            MESSAGE_CONTENT intent (if not, IDENTIFY with it is closed with 4014).
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
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self._host = host
        self._ids = SnowflakeFactory()
        self.bot = FakeUser(id=self._ids(), username=bot_name, bot=True)
        self.user = FakeUser(id=self._ids(), username="alice", global_name="Alice")
        self.application_id = self.bot.id
        guild = FakeGuild(id=self._ids(), name="Test Guild")
        self.guilds: dict[str, FakeGuild] = {guild.id: guild}
        self.channels: dict[str, FakeChannel] = {}
        self.guild_id = guild.id
        self.channel_id = self.add_channel("general").id
        self.messages: dict[str, list[FakeMessage]] = {}
        self.typing: dict[str, int] = {}
        self.requests: list[tuple[str, str]] = []
        self._by_id: dict[str, FakeMessage] = {}
        self._limits: list[_RateLimit] = []
        self.rate_limited = 0
        """How many 429 responses were sent."""
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
        self._runner: web.AppRunner | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on a free port of ``host``."""
        app = web.Application()
        app.router.add_get("/gateway", self._gateway.handle)
        app.router.add_route("*", "/api/v{version}/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, 0)
        await site.start()
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

    @property
    def stats(self) -> GatewayStats:
        """Gateway counters: identifies, resumes, heartbeats, connections, invalid_sessions."""
        return self._gateway.stats

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

    def add_guild(self, name: str) -> FakeGuild:
        """Add a guild (sent in GUILD_CREATE to sessions identified afterwards)."""
        guild = FakeGuild(id=self._ids(), name=name)
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
        reply_to: str | None = None,
        attachments: Iterable[tuple[str, str]] = (),
        webhook: bool = False,
    ) -> FakeMessage:
        """Post a message as a user (default :attr:`user`) and dispatch MESSAGE_CREATE.

        Args:
            channel_id: where.
            content: the text; with ``mention_bot`` it is prefixed by ``<@bot_id> ``.
            author: who writes it (``new_user("other", bot=True)`` for another bot).
            mention_bot: mention the bot (in the content and in ``mentions``).
            reply_to: id of a message this one replies to.
            attachments: ``(filename, url)`` pairs.
            webhook: post as a webhook (author is then a bot-like webhook user).

        The message is stored in the channel's history even when no bot is connected
        (so a bot that comes back can backfill it).
        """
        author = author or self.user
        mentions: tuple[FakeUser, ...] = ()
        if mention_bot:
            content = f"<@{self.bot.id}> {content}"
            mentions = (self.bot,)
        files = tuple(
            FakeAttachment(id=self._ids(), filename=name, url=url, size=0)
            for name, url in attachments
        )
        message = FakeMessage(
            id=self._ids(),
            channel_id=channel_id,
            guild_id=self.channels[channel_id].guild_id,
            author=author,
            content=content,
            reply_to=reply_to,
            mentions=mentions,
            attachments=files,
            webhook_id=self._ids() if webhook else None,
        )
        await self._store_and_dispatch(message)
        return message

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

        ``scope`` is ``"messages"`` (POST .../messages), ``"typing"`` or ``"all"``. The
        responses carry Discord's headers (``X-RateLimit-*``, ``Retry-After``, ``Via``) and
        body (``retry_after``, ``global``). ``after`` lets that many matching requests
        through first (to fail, say, the second part of a long reply).
        """
        if scope not in ("messages", "typing", "all"):
            raise ValueError(f"unknown scope {scope!r}")
        self._limits.append(_RateLimit(after, count, retry_after, is_global, scope))

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
        for session in self._gateway.live_sessions():
            wanted = INTENT_DIRECT_MESSAGES if is_dm else INTENT_GUILD_MESSAGES
            if not session.intents & wanted:
                continue
            content = None
            if not session.intents & INTENT_MESSAGE_CONTENT and not self._content_visible(message):
                content = ""
            payload = message.payload(referenced=referenced, content=content)
            await session.dispatch("MESSAGE_CREATE", payload)
        self._notify()

    def _content_visible(self, message: FakeMessage) -> bool:
        """Without the intent, content shows only in DMs, mentions and the bot's own."""
        return (
            message.guild_id is None
            or message.author.id == self.bot.id
            or any(u.id == self.bot.id for u in message.mentions)
        )

    def _take_rate_limit(self, request: web.Request, kind: str) -> _RateLimit | None:
        for limit in self._limits:
            if limit.remaining > 0 and limit.scope in (kind, "all"):
                if limit.skip > 0:
                    limit.skip -= 1
                    return None
                limit.remaining -= 1
                self.rate_limited += 1
                return limit
        return None

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.match_info["path"]))
        if request.match_info["version"] != str(API_VERSION):
            return _error(404, "404: Not Found", 0)
        path = request.match_info["path"].rstrip("/")
        if path != "gateway" and request.headers.get("Authorization") != f"Bot {self.token}":
            return _error(401, "401: Unauthorized", 0)
        parts = path.split("/")
        kind = "other"
        if request.method == "POST" and len(parts) == 3 and parts[2] in ("messages", "typing"):
            kind = parts[2]
        limit = self._take_rate_limit(request, kind)
        if limit is not None:
            return _rate_limited(limit)
        try:
            response = await self._route(request, parts)
        except KeyError:
            response = _error(404, "404: Not Found", 0)
        self._notify()
        return response

    async def _route(self, request: web.Request, parts: list[str]) -> web.Response:
        method = request.method
        if parts == ["gateway"] or parts == ["gateway", "bot"]:
            data: Any = {"url": self.gateway_url}
            if parts[-1] == "bot":
                data |= {
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 999,
                        "reset_after": 86_400_000,
                        "max_concurrency": 1,
                    },
                }
            return _json(data)
        if parts == ["users", "@me"] and method == "GET":
            return _json(self.bot.payload() | {"verified": True, "mfa_enabled": False})
        if parts == ["oauth2", "applications", "@me"] and method == "GET":
            return _json(self._application())
        if len(parts) >= 2 and parts[0] == "channels":
            channel = self.channels[parts[1]]
            rest = parts[2:]
            if rest == [] and method == "GET":
                return _json(channel.payload())
            if rest == ["typing"] and method == "POST":
                self.typing[channel.id] = self.typing.get(channel.id, 0) + 1
                return web.Response(status=204, headers=_ok_limit_headers())
            if rest == ["messages"] and method == "GET":
                return _json(self._history_page(channel.id, request.query))
            if rest == ["messages"] and method == "POST":
                return await self._create_message(channel, request)
            if len(rest) == 2 and rest[0] == "messages" and method == "GET":
                found = self._by_id.get(rest[1])
                if found is None or found.channel_id != channel.id:
                    return _error(404, "Unknown Message", 10008)
                return _json(found.payload())
        return _error(404, "404: Not Found", 0)

    def _application(self) -> dict[str, Any]:
        return {
            "id": self.application_id,
            "name": self.bot.username,
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.user.payload(),
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
        }

    def _history_page(self, channel_id: str, query: Any) -> list[dict[str, Any]]:
        limit = max(1, min(100, int(query.get("limit", 50))))
        items = self.messages.get(channel_id, [])
        if "after" in query:
            after = int(query["after"])
            chosen = [m for m in items if int(m.id) > after][:limit]
        elif "before" in query:
            before = int(query["before"])
            chosen = [m for m in items if int(m.id) < before][-limit:]
        else:
            chosen = items[-limit:]
        return [
            m.payload(referenced=self._by_id.get(m.reply_to) if m.reply_to else None)
            for m in reversed(chosen)  # Discord returns newest first
        ]

    async def _create_message(self, channel: FakeChannel, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "400: Bad Request", 50109)
        content = str(body.get("content") or "")
        if len(content) > MAX_CONTENT:
            return _error(
                400,
                "Invalid Form Body",
                50035,
                {
                    "content": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": "Must be 2000 or fewer in length.",
                            }
                        ]
                    }
                },
            )
        if not content.strip() and not body.get("embeds") and not body.get("sticker_ids"):
            return _error(400, "Cannot send an empty message", 50006)
        reply_to = None
        reference = body.get("message_reference")
        if isinstance(reference, dict) and reference.get("message_id"):
            reply_to = str(reference["message_id"])
            if reply_to not in self._by_id and reference.get("fail_if_not_exists", True):
                return _error(400, "Unknown message", 10008)
        message = FakeMessage(
            id=self._ids(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=self.bot,
            content=content,
            reply_to=reply_to,
        )
        await self._store_and_dispatch(message)
        referenced = self._by_id.get(reply_to) if reply_to else None
        return _json(message.payload(referenced=referenced))


def _ok_limit_headers() -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "49",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
        "X-RateLimit-Bucket": "fake-bucket",
    }


def _json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={**JSON_HEADERS, **_ok_limit_headers(), **(headers or {})},
    )


def _error(status: int, message: str, code: int, errors: Any = None) -> web.Response:
    data: dict[str, Any] = {"message": message, "code": code}
    if errors is not None:
        data["errors"] = errors
    return web.Response(status=status, body=json.dumps(data).encode(), headers=JSON_HEADERS)


def _rate_limited(limit: _RateLimit) -> web.Response:
    headers = {
        **JSON_HEADERS,
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + limit.retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{limit.retry_after:.3f}",
        "X-RateLimit-Bucket": "fake-bucket",
        "X-RateLimit-Scope": "user",
        "Retry-After": str(max(1, math.ceil(limit.retry_after))),
        "Via": "1.1 google",
    }
    if limit.is_global:
        headers["X-RateLimit-Global"] = "true"
    body = {
        "message": "You are being rate limited.",
        "retry_after": limit.retry_after,
        "global": limit.is_global,
        "code": 0,
    }
    return web.Response(status=429, body=json.dumps(body).encode(), headers=headers)


__all__ = [
    "MAX_CONTENT",
    "FakeAttachment",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeMessage",
    "FakeUser",
    "GatewayStats",
]
