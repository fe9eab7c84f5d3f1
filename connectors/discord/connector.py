"""Discord, input and output, on discord.py: messages in, replies out (as replies).

The connector listens on the gateway, hands each message it should answer to the runner
(mentions of the bot in guild channels by default, every direct message), shows typing
while the agent works, and sends the reply as a Discord reply to the triggering message,
split at 2,000 characters without breaking code blocks. It drops its own messages and
marks other bots (``author.is_bot``) so the runner drops them too; with bots allowed, a reply
to one of its replies is one level deeper (``Message.depth``), so the runner's
``max_reply_depth`` ends bot-to-bot ping-pong.

After downtime it backfills: the newest message id seen per channel is kept as a store
cursor; on each new gateway session it reads what the channels got since, oldest first,
and hands it to the runner, whose journal makes sure nothing is answered twice.

Endpoints are configurable (``api_base``, ``gateway_url``, ``DISCORD_API_BASE``,
``DISCORD_GATEWAY_URL``) for proxies and offline tests against ``FakeDiscord``.

Example:
    ::

        from agent_runner import AgentRuntime
        from connectors.discord import DiscordConnector

        discord = DiscordConnector()          # DISCORD_TOKEN etc. from the environment
        await AgentRuntime([discord], [discord], agent).run()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from typing import Any

from agent_runner.connector import BaseConnector, DeliveryContract, DeliveryKey, Sink, account_key
from agent_runner.errors import ConfigurationError, ConnectorError, InvalidMessageError
from agent_runner.message import Message, Reply
from agent_runner.store import Store
from connectors._chat import TypingIndicators
from connectors.discord.backfill import Backfill, start_cursors
from connectors.discord.buttons import take_press
from connectors.discord.client import ConnectorClient, QueueItem, gateway_intents
from connectors.discord.convert import Scope, guild_id_of, in_scope, to_fields, wanted
from connectors.discord.cursors import ChannelCursors
from connectors.discord.errors import REST_ERRORS, TRANSIENT_ERRORS
from connectors.discord.posting import STREAM_INTERVAL, ReplyPoster
from connectors.discord.sdk import discord
from connectors.discord.settings import DiscordSettings

_log = logging.getLogger("connectors.discord")

TYPING_REFRESH = 8.0
"""Seconds between typing triggers (Discord shows typing for 10 s after each)."""
_TYPING_ERRORS: tuple[type[BaseException], ...] = (*TRANSIENT_ERRORS, discord.DiscordException)


class DiscordConnector(BaseConnector):
    """A Discord bot: input (gateway messages) and output (replies), both named ``discord``.

    Every option left ``None`` comes from the environment (:class:`DiscordSettings`,
    ``DISCORD_*``), then from the default shown.

    Args:
        token: the bot token (``DISCORD_TOKEN``). Required.
        api_base: REST base URL (default ``https://discord.com/api/v10``).
        gateway_url: gateway websocket URL (default ``wss://gateway.discord.gg/``).
        channel_ids: guild channels to listen in (threads count as their parent channel);
            empty: every channel the bot can read.
        guild_ids: guilds to listen in; empty: every guild.
        mentions_only: in guilds, only messages that mention the bot or reply to it
            (default True). Direct messages are never filtered by mention.
        direct_messages: listen to direct messages (default True).
        message_content: ask for the privileged MESSAGE_CONTENT intent (default True;
            enable it in the Developer Portal, or set False: then only mentions and DMs
            carry text).
        backfill: after downtime, read what arrived since the last seen message of each
            known channel (default True; needs the runner's store).
        backfill_limit: most messages read per channel per backfill (default 200).
        backfill_max_age: seconds; older missed messages are skipped, not answered
            (default one day).
        backfill_retry: seconds before a failed backfill is tried again (doubling, up to
            5 minutes); meanwhile that channel's cursor stays put, so nothing is skipped.
        max_rate_limit_wait: longest 429 wait discord.py may sleep for one request; a
            longer one fails the send at once with :class:`RateLimitedError` (default and
            minimum 30 s: discord.py also refuses requests whose bucket resets later than
            the cap, so a shorter cap would refuse ordinary traffic).
        post_channel_id: where replies to messages from other inputs (cron, HTTP) go,
            unless a reply's ``metadata["discord_channel_id"]`` says otherwise.
        typing: show typing while the agent works (default True).
        typing_delay: seconds before typing shows (default 0.5): a reply that comes
            sooner needs no indicator, and the REST call is saved.
        typing_timeout: stop showing typing after this many seconds without a reply (an
            agent may answer nothing; default 60 s).
        guild_ready_timeout: seconds discord.py waits for guilds after READY.
        identify_delay: seconds to wait before identifying again after a session ended
            (Discord allows one IDENTIFY per 5 s; tests against a local server use 0).
        request_timeout: seconds for login and each REST call (plus rate-limit waits).
        stream: show streamed replies as edits of one message (default True), at most one
            edit per ``stream_interval`` seconds on ``clock`` (injected in tests).
        settings: read options from this instead of the environment.
        name: the connector's name (default ``discord``).
        shard: ``(shard_id, shard_count)``: this connector's gateway session is that shard
            (guild events of ``(guild_id >> 22) % shard_count == shard_id``; DMs on shard 0).
            :meth:`sharded` makes one connector per shard.
    """

    name = "discord"
    single_consumer = True  # one gateway session per bot token (per shard)
    delivery: DeliveryContract = "exactly_once"  # each part's nonce, with enforce_nonce

    def __init__(
        self,
        *,
        token: str | None = None,
        api_base: str | None = None,
        gateway_url: str | None = None,
        channel_ids: Collection[int | str] | None = None,
        guild_ids: Collection[int | str] | None = None,
        mentions_only: bool | None = None,
        direct_messages: bool | None = None,
        message_content: bool | None = None,
        backfill: bool | None = None,
        backfill_limit: int | None = None,
        backfill_max_age: float | None = None,
        backfill_retry: float = 5.0,
        max_rate_limit_wait: float | None = None,
        post_channel_id: int | str | None = None,
        typing: bool = True,
        typing_delay: float = 0.5,
        typing_timeout: float = 60.0,
        guild_ready_timeout: float = 2.0,
        identify_delay: float = 5.0,
        request_timeout: float = 30.0,
        stream: bool = True,
        stream_interval: float = STREAM_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        settings: DiscordSettings | None = None,
        name: str | None = None,
        shard: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(name=name)
        env = settings if settings is not None else DiscordSettings.load()
        secret = env.token.get_secret_value() if env.token else None
        self._token = token if token is not None else secret
        if not self._token:
            raise ConfigurationError("the Discord connector needs a bot token: set DISCORD_TOKEN")
        self.shard = shard
        account = account_key(self._token)
        self.lease_group = f"input:discord:{account}"  # replicas share the shards out evenly
        self.lease_account = f"{account}:shard-{shard[0]}-of-{shard[1]}" if shard else account
        self._api_base = api_base if api_base is not None else env.api_base
        self._gateway_url = gateway_url if gateway_url is not None else env.gateway_url
        self._scope = Scope(
            channel_ids=frozenset(
                int(c) for c in (env.channel_ids if channel_ids is None else channel_ids)
            ),
            guild_ids=frozenset(
                int(g) for g in (env.guild_ids if guild_ids is None else guild_ids)
            ),
            mentions_only=env.mentions_only if mentions_only is None else mentions_only,
            direct_messages=env.direct_messages if direct_messages is None else direct_messages,
        )
        if backfill_retry < 0:
            raise ConfigurationError("backfill_retry must be >= 0 seconds")
        self._message_content = env.message_content if message_content is None else message_content
        self._backfill_on = env.backfill if backfill is None else backfill
        self._backfill = Backfill(
            limit=env.backfill_limit if backfill_limit is None else backfill_limit,
            max_age=env.backfill_max_age if backfill_max_age is None else backfill_max_age,
            retry_base=backfill_retry,
            on_retry=lambda: self._queue.put_nowait(("retry", None)),
        )
        self._max_wait = (
            env.max_rate_limit_wait if max_rate_limit_wait is None else max_rate_limit_wait
        )
        post = post_channel_id if post_channel_id is not None else env.post_channel_id
        typists = TypingIndicators(
            refresh=TYPING_REFRESH,
            delay=typing_delay,
            timeout=typing_timeout,
            request_timeout=request_timeout,
            errors=_TYPING_ERRORS,
        )
        self._typing = typists if typing else None
        self._guild_ready_timeout = guild_ready_timeout
        self._identify_delay = identify_delay
        self._request_timeout = request_timeout
        self._poster = ReplyPoster(
            source=self.name,
            post_channel_id=int(post) if post is not None else None,
            max_wait=self._max_wait,
            request_timeout=request_timeout,
            stream_interval=stream_interval,
            clock=clock,
        )
        self._stream = stream
        self._store: Store | None = None
        self._client: ConnectorClient | None = None
        self._cursors = ChannelCursors(None, "")
        self._queue: asyncio.Queue[QueueItem] = asyncio.Queue()

    @classmethod
    def sharded(
        cls, count: int, *, name: str | None = None, **options: Any
    ) -> list[DiscordConnector]:
        """``count`` connectors, shard 0 to ``count - 1`` of one bot, named ``{name}-{shard}``
        (``discord-0``...): give them all as inputs and outputs; replicas share them out."""
        base = name or cls.name
        return [cls(name=f"{base}-{i}", shard=(i, count), **options) for i in range(count)]

    # -- lifecycle -------------------------------------------------------------------
    def bind_store(self, store: Store) -> None:
        """Keep channel cursors (and streamed message ids) in the runner's store."""
        self._store = self._poster.live.store = store

    @property
    def bot_id(self) -> int | None:
        """The bot account's user id, once logged in."""
        client = self._client
        return client.user.id if client is not None and client.user is not None else None

    async def open(self) -> None:
        """Log in over REST (checks the token) and load the channel cursors."""
        if self._client is not None:
            return
        assert self._token is not None
        client = ConnectorClient(
            intents=gateway_intents(self._scope.direct_messages, self._message_content),
            shard=self.shard,
            api_base=self._api_base, gateway_url=self._gateway_url,
            max_rate_limit_wait=self._max_wait,
            guild_ready_timeout=self._guild_ready_timeout,
            identify_delay=self._identify_delay,
            on_message=lambda message: self._queue.put_nowait(("message", message)),
            on_connect=self._on_connect,
            on_ready=self._on_ready,
            on_interaction=lambda press: self._queue.put_nowait(("press", press)),
            on_state=self.report,  # gateway up / reconnecting, for /readyz
        )  # fmt: skip
        try:
            async with asyncio.timeout(self._request_timeout):
                await client.login(self._token)
        except discord.LoginFailure:
            await client.close()
            raise ConfigurationError("Discord rejected the bot token (DISCORD_TOKEN)") from None
        except REST_ERRORS as exc:
            await client.close()
            where = self._api_base or "discord.com"
            raise ConnectorError(f"cannot log in to Discord at {where}: {exc!r}") from exc
        assert client.user is not None
        self._client = client
        prefix = f"discord:{self.name}:{client.user.id}"
        self._cursors = ChannelCursors(self._store if self._backfill_on else None, prefix)
        await self._cursors.load()
        _log.info("%s: logged in as %s (%s)", self.name, client.user, client.user.id)

    async def close(self) -> None:
        """Stop typing, save cursors, close the client. Safe to call twice."""
        if self._typing is not None:
            self._typing.close()
        await self._cursors.flush_quietly()
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def run(self, sink: Sink) -> None:
        """Listen on the gateway until stopped (the runner's input loop)."""
        client = self._require_client()
        # Left over from a crashed run: dropped, a backfill reads them again (cursors lag).
        while not self._queue.empty():
            self._queue.get_nowait()
        consumer = asyncio.ensure_future(self._consume(sink))
        gateway = asyncio.ensure_future(client.connect(reconnect=True))
        try:
            done, _ = await asyncio.wait({consumer, gateway}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        except discord.PrivilegedIntentsRequired:
            raise ConfigurationError(
                "Discord refused the MESSAGE_CONTENT intent: enable it for the bot in the "
                "Developer Portal, or set DISCORD_MESSAGE_CONTENT=false"
            ) from None
        except discord.ConnectionClosed as exc:
            if exc.code == 4004:
                raise ConfigurationError("Discord rejected the bot token (DISCORD_TOKEN)") from None
            raise ConnectorError(f"Discord gateway closed with code {exc.code}") from exc
        finally:
            for task in (gateway, consumer):
                task.cancel()
            await asyncio.gather(gateway, consumer, return_exceptions=True)
            self._backfill.cancel()
            await client.close_gateway()
            await self._cursors.flush_quietly()

    # -- input -----------------------------------------------------------------------
    def _on_connect(self) -> None:
        # A new session (not a resume): what arrived meanwhile is only in channel history.
        if self._backfill_on and self._cursors.persistent:
            self._queue.put_nowait(("backfill", None))

    async def _on_ready(self) -> None:
        client = self._require_client()
        _log.info("%s: gateway ready, %d guilds", self.name, len(client.guilds))
        if self._backfill_on and self._cursors.persistent:
            self._queue.put_nowait(("init", None))

    async def _consume(self, sink: Sink) -> None:
        """Hand queued events to the runner in arrival order; save cursors per batch."""
        while True:
            item = await self._queue.get()
            await self._handle(item, sink)
            while not self._queue.empty():
                await self._handle(self._queue.get_nowait(), sink)
            await self._cursors.flush_quietly()

    async def _handle(self, item: QueueItem, sink: Sink) -> None:
        if item[0] == "message":
            await self._process(item[1], sink)
        elif item[0] == "press":
            await take_press(self._require_client(), item[1], sink, source=self.name)
        elif item[0] in ("backfill", "retry"):
            channels = (
                [c for c, _ in self._cursors.channels()]
                if item[0] == "backfill"
                else self._backfill.failing
            )
            await self._backfill.read(
                self._require_client(),
                self._cursors,
                channels,
                lambda message: self._process(message, sink, backfilled=True),
            )
        else:
            start_cursors(self._require_client(), self._cursors, self._scope.channel_ids)

    async def _process(
        self, message: discord.Message, sink: Sink, *, backfilled: bool = False
    ) -> None:
        bot_id = self.bot_id
        if bot_id is None or not in_scope(message, self._scope):
            return
        channel_id = message.channel.id
        last = self._cursors.get(channel_id)
        if last is not None and message.id <= last:
            return  # seen already (live, or read by a backfill)
        if backfilled and self._backfill.too_old(message):
            _log.info("discord: missed message %s is too old to answer; skipped", message.id)
        elif wanted(message, self._scope, bot_id):
            fields = to_fields(
                message, source=self.name, bot_id=bot_id, depth=self._poster.depth_of(message)
            )
            if fields is not None:
                try:
                    accepted = await sink(fields)
                except InvalidMessageError as exc:
                    _log.debug("discord: message %s refused: %s", message.id, exc.reason)
                else:
                    if not accepted.duplicate and self._typing is not None:
                        send_typing = self._require_client().http.send_typing
                        self._typing.start(
                            str(message.id), lambda: send_typing(channel_id), chat=str(channel_id)
                        )
        if backfilled or not self._backfill.is_failing(channel_id):
            self._cursors.advance(channel_id, guild_id_of(message), message.id)

    async def complete(self, message: Message) -> None:
        """The runner handled ``message`` (replies sent, or none): stop showing typing."""
        if self._typing is not None:
            self._typing.stop(message.id)

    # -- output ----------------------------------------------------------------------
    async def send(
        self, request: Message, response: Reply, *, key: DeliveryKey | None = None
    ) -> None:
        """Reply (:mod:`connectors.discord.posting`); raises RateLimitedError (a 429 over
        ``max_rate_limit_wait``), DeliveryError (refused) or ConnectorError."""
        client = self._require_client()
        if request.source == self.name and self._typing is not None:
            self._typing.stop(request.id)
        await self._poster.send(client, request, response, key)

    def wants_stream(self, request: Message) -> bool:
        return self._stream and request.source == self.name

    async def send_chunk(self, request: Message, chunk: str) -> None:
        if self._typing is not None:
            self._typing.stop(request.id)
        await self._poster.send_chunk(self._require_client(), request, chunk)

    def _require_client(self) -> ConnectorClient:
        if self._client is None:
            raise ConnectorError("the Discord connector is not open (call open() first)")
        return self._client


__all__ = ["DiscordConnector"]
