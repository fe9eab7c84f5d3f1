"""The discord.py client the connector drives, pointed at configurable endpoints.

discord.py builds REST URLs from the class attribute ``discord.http.Route.BASE`` and
connects the gateway to ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``. Changing
those would move every client in the process, so this client reroutes per instance
instead: its HTTP client rewrites each request's URL from ``Route.BASE`` to ``api_base``
and each gateway connection (the first one, a resume, a reconnect) to ``gateway_url``,
keeping the query (``v``, ``encoding``, ``compress``). Unset, it talks to Discord.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import aiohttp
import yarl

from agent_runner.connector import ConnectorState
from agent_runner.errors import ConfigurationError
from connectors.discord.sdk import discord

_log = logging.getLogger("connectors.discord")

QueueItem = (
    tuple[Literal["message"], discord.Message]
    | tuple[Literal["press"], discord.Interaction]
    | tuple[Literal["backfill", "retry", "init"], None]
)
"""What the gateway hands the connector's input loop, in order."""


class _RoutedHTTPClient(discord.http.HTTPClient):
    """discord.py's HTTP client, sending REST calls and gateway connections elsewhere."""

    api_base: str | None = None
    gateway_url: str | None = None

    async def request(self, route: discord.http.Route, **kwargs: Any) -> Any:
        base = discord.http.Route.BASE
        if self.api_base is not None and route.url.startswith(base):
            route.url = self.api_base + route.url[len(base) :]
        return await super().request(route, **kwargs)

    async def ws_connect(self, url: str, *, compress: int = 0) -> aiohttp.ClientWebSocketResponse:
        if self.gateway_url is not None:
            url = str(yarl.URL(self.gateway_url).with_query(yarl.URL(url).query))
        return await super().ws_connect(url, compress=compress)


MessageHandler = Callable[[discord.Message], None]


def gateway_intents(direct_messages: bool, message_content: bool) -> discord.Intents:
    """Guilds and guild messages; DMs and the privileged MESSAGE_CONTENT intent as asked."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = direct_messages
    intents.message_content = message_content
    return intents


class ConnectorClient(discord.Client):
    """A ``discord.Client`` that hands gateway events to the connector.

    discord.py runs each event handler in a task of its own, started in arrival order;
    ``on_message`` and ``on_connect`` hand the event over before their first ``await``, so
    the connector queues them in arrival order. ``on_ready`` is forwarded as a coroutine.
    """

    def __init__(
        self,
        *,
        intents: discord.Intents,
        api_base: str | None,
        gateway_url: str | None,
        max_rate_limit_wait: float,
        guild_ready_timeout: float,
        identify_delay: float,
        on_message: MessageHandler,
        on_connect: Callable[[], None],
        on_ready: Callable[[], Awaitable[None]],
        on_interaction: Callable[[discord.Interaction], None] | None = None,
        shard: tuple[int, int] | None = None,
        on_state: Callable[[ConnectorState], None] | None = None,
    ) -> None:
        if shard is not None and not 0 <= shard[0] < shard[1]:
            raise ConfigurationError(
                f"shard {shard}: want (shard_id, shard_count), 0 <= id < count"
            )
        sharding: dict[str, Any] = {"shard_id": shard[0], "shard_count": shard[1]} if shard else {}
        # The connector never joins voice: skip discord.py's warnings about voice libraries.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            intents=intents,
            guild_ready_timeout=guild_ready_timeout,
            max_messages=None,
            chunk_guilds_at_startup=False,
            max_ratelimit_timeout=max(30.0, max_rate_limit_wait),
            **sharding,
        )
        # discord.Client builds its HTTPClient itself: switching the instance's class to the
        # routed subclass keeps every attribute and moves this client's traffic only.
        http = self.http
        http.__class__ = _RoutedHTTPClient
        assert isinstance(http, _RoutedHTTPClient)
        http.api_base = api_base.rstrip("/") if api_base else None
        http.gateway_url = gateway_url
        self._identify_delay = identify_delay
        self._forward_message = on_message
        self._forward_connect = on_connect
        self._forward_ready = on_ready
        self._forward_interaction = on_interaction
        self._state = on_state or (lambda state: None)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # discord.py waits 5 s before every IDENTIFY but the first (Discord allows one
        # IDENTIFY per 5 s); configurable so that tests against a local server need not.
        if not initial and self._identify_delay > 0:
            await asyncio.sleep(self._identify_delay)

    async def on_message(self, message: discord.Message) -> None:
        self._forward_message(message)

    async def on_connect(self) -> None:
        self._state("up")
        self._forward_connect()

    async def on_disconnect(self) -> None:
        self._state("reconnecting")

    async def on_ready(self) -> None:
        await self._forward_ready()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if self._forward_interaction is not None:
            self._forward_interaction(interaction)

    async def on_resumed(self) -> None:
        self._state("up")
        _log.info("discord: gateway session resumed")

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        # Late events (a READY timer firing during shutdown) must not schedule handlers on
        # a closed client, whose event loop reference is gone.
        if not self.is_closed():
            super().dispatch(event, *args, **kwargs)

    async def close_gateway(self) -> None:
        """Close the gateway connection (and its heartbeat thread); REST stays usable."""
        ready_task = getattr(self._connection, "_ready_task", None)
        if isinstance(ready_task, asyncio.Task):
            ready_task.cancel()
        if self.ws is not None:
            await self.ws.close(code=1000)


__all__ = ["ConnectorClient", "QueueItem", "gateway_intents"]
