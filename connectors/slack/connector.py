"""Slack, input and output, on slack_sdk: events in, replies out (in the thread).

Input, two modes:

- ``socket`` (Socket Mode, the default with an app-level token): slack_sdk's aiohttp
  ``SocketModeClient`` opens the websocket URL from ``apps.connections.open``; each
  envelope is acknowledged with its ``envelope_id`` only once the runner journaled the
  message, so an envelope lost to a crash or restart is sent again by Slack (``retry_attempt``
  raised) and answered once.
- ``events`` (the Events API): a local server verifies Slack's signature on every request,
  answers the ``url_verification`` challenge, answers 200 once the event is journaled, and
  recognises Slack's retries (``X-Slack-Retry-Num``) by ``event_id``.

Both deliver ``app_mention`` (channels) and ``message`` (direct messages) events and button
presses (``block_actions``); which are answered: :mod:`connectors.slack.convert`. Output:
:mod:`connectors.slack.replies`. 429s wait ``Retry-After`` within a cap
(:mod:`connectors.slack.calls`).

Example:
    ::

        from agent_runner import AgentRuntime
        from connectors.slack import SlackConnector

        slack = SlackConnector()          # SLACK_BOT_TOKEN, SLACK_APP_TOKEN from the environment
        runtime = AgentRuntime([slack], [slack], agent)
        await runtime.run()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Literal

from agent_runner.backoff import RetryPolicy
from agent_runner.connector import BaseConnector, Sink, account_key
from agent_runner.errors import ConfigurationError, ConnectorError, InvalidMessageError
from agent_runner.media import ResolvedFile
from agent_runner.message import Attachment, Message, Reply
from agent_runner.store import Store
from connectors._chat.calls import capped
from connectors.slack import media
from connectors.slack.calls import DEFAULT_RETRY, slack_caller
from connectors.slack.convert import BotIdentity, Scope, action_fields, event_fields
from connectors.slack.events import EventsServer
from connectors.slack.replies import SlackReplies
from connectors.slack.sdk import (
    AsyncBaseSocketModeClient,
    AsyncWebClient,
    SocketModeClient,
    SocketModeRequest,
    SocketModeResponse,
)
from connectors.slack.settings import SlackSettings

_log = logging.getLogger("connectors.slack")
SEEN_EVENTS = 10_000
"""How many event ids are remembered to recognise Slack's retries."""


class SlackConnector(BaseConnector):
    """A Slack bot: input (events) and output (replies in threads), both named ``slack``.

    Every option left ``None`` comes from the environment (:class:`SlackSettings`,
    ``SLACK_*``), then from the default shown.

    Args:
        bot_token: the bot token, ``xoxb-...`` (``SLACK_BOT_TOKEN``). Required.
        app_token: the app-level token for Socket Mode, ``xapp-...``.
        signing_secret: verifies Events API requests.
        api_base: Web API root (default ``https://slack.com/api/``).
        mode: ``"socket"`` or ``"events"`` (default: socket when there is an app token).
        events_host, events_port, events_path: where the Events API server listens.
        channel_ids: channels to answer mentions in; empty: all.
        direct_messages: answer direct messages (default True).
        max_retry_after: the longest 429 ``Retry-After`` obeyed (default 30 s).
        post_channel_id: where replies to other inputs' messages (cron) go.
        stream: show streamed replies as edits of one message (default True).
        stream_interval: least seconds between two edits (default 1.5; ``chat.update`` is
            rate limited per channel).
        retry: 429 waits (default :data:`connectors.slack.calls.DEFAULT_RETRY`).
        request_timeout: seconds per Web API call.
        ping_interval: seconds between Socket Mode pings.
        clock: the time source of streaming edits (injected in tests).
        sleep: how 429 waits sleep (injected in tests).
        settings: read options from this instead of the environment.
        name: the connector's name (default ``slack``).
    """

    name = "slack"

    def __init__(
        self,
        *,
        bot_token: str | None = None,
        app_token: str | None = None,
        signing_secret: str | None = None,
        api_base: str | None = None,
        mode: Literal["socket", "events"] | None = None,
        events_host: str | None = None,
        events_port: int | None = None,
        events_path: str | None = None,
        channel_ids: Collection[str] | None = None,
        direct_messages: bool | None = None,
        max_retry_after: float | None = None,
        post_channel_id: str | None = None,
        stream: bool = True,
        stream_interval: float = 1.5,
        retry: RetryPolicy | None = None,
        request_timeout: float = 30.0,
        ping_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        settings: SlackSettings | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        env = settings if settings is not None else SlackSettings.load()

        def secret(value: str | None, setting: Any) -> str | None:
            return value if value is not None else (setting.get_secret_value() if setting else None)

        self._bot_token = secret(bot_token, env.bot_token)
        self._app_token = secret(app_token, env.app_token)
        self._signing_secret = secret(signing_secret, env.signing_secret)
        if not self._bot_token:
            raise ConfigurationError("the Slack connector needs SLACK_BOT_TOKEN")
        self._mode = mode or env.mode or ("socket" if self._app_token else "events")
        self.single_consumer = self._mode == "socket"  # one Socket Mode session per app
        self.lease_account = account_key(self._bot_token)
        if self._mode == "socket" and not self._app_token:
            raise ConfigurationError("Slack Socket Mode needs SLACK_APP_TOKEN (xapp-...)")
        if self._mode == "events" and not self._signing_secret:
            raise ConfigurationError("the Slack Events API needs SLACK_SIGNING_SECRET")
        base = api_base if api_base is not None else env.api_base
        self._api_base = (base or "https://slack.com/api/").rstrip("/") + "/"
        self._events_host = events_host if events_host is not None else env.events_host
        self._events_port = events_port if events_port is not None else env.events_port
        self._events_path = events_path if events_path is not None else env.events_path
        self._scope = Scope(
            channel_ids=frozenset(env.channel_ids if channel_ids is None else channel_ids),
            direct_messages=env.direct_messages if direct_messages is None else direct_messages,
        )
        cap = env.max_retry_after if max_retry_after is None else max_retry_after
        policy = capped(retry or DEFAULT_RETRY, cap)
        self._caller = slack_caller(policy, timeout=request_timeout, sleep=sleep)
        post = post_channel_id if post_channel_id is not None else env.post_channel_id
        self._replies = SlackReplies(
            source=self.name,
            caller=self._caller,
            post_channel_id=post,
            stream_interval=stream_interval,
            clock=clock,
        )
        self._stream = stream
        self._request_timeout = request_timeout
        self._ping_interval = ping_interval
        self._client: AsyncWebClient | None = None
        self.me: BotIdentity | None = None
        self._seen: dict[str, None] = {}
        self._sink: Sink | None = None
        self.events_port = self._events_port
        """The Events API server's port once listening (useful with ``events_port=0``)."""
        self.listening = asyncio.Event()
        """Set while the input takes events (Socket Mode connected, or the server up)."""

    # -- lifecycle -------------------------------------------------------------------
    def bind_store(self, store: Store) -> None:
        """Keep streamed message ids in the runner's store."""
        self._replies.live.store = store

    @property
    def rate_limit_waits(self) -> list[float]:
        """Every 429 wait taken so far, in seconds."""
        return self._caller.waits

    async def open(self) -> None:
        """Check the bot token with ``auth.test``."""
        if self._client is not None:
            return
        client = AsyncWebClient(
            token=self._bot_token, base_url=self._api_base, timeout=int(self._request_timeout)
        )
        try:
            auth = await self._caller("auth.test", client.auth_test)
        except BaseException:
            await _close_session(client)
            raise
        self.me = BotIdentity(
            user_id=str(auth["user_id"]),
            bot_id=str(auth.get("bot_id") or ""),
            team_id=str(auth.get("team_id") or ""),
        )
        self._client = client
        self._replies.client = client
        _log.info(
            "slack: signed in as %s (%s), %s mode", auth.get("user"), self.me.user_id, self._mode
        )

    async def close(self) -> None:
        """Close the web client. Safe to call twice."""
        client, self._client = self._client, None
        self._replies.client = None
        if client is not None:
            await _close_session(client)

    async def run(self, sink: Sink) -> None:
        """Take events (Socket Mode or the Events API) until stopped."""
        self._require_client()
        self._sink = sink
        if self._mode == "socket":
            await self._run_socket()
        else:
            await self._run_events()

    # -- input -----------------------------------------------------------------------
    async def _run_socket(self) -> None:
        client = self._require_client()
        assert self._app_token is not None
        socket = SocketModeClient(
            app_token=self._app_token,
            web_client=client,
            ping_interval=self._ping_interval,
            logger=logging.getLogger("connectors.slack.socket_mode"),
        )
        socket.socket_mode_request_listeners.append(self._on_envelope)
        try:
            async with asyncio.timeout(self._request_timeout):
                await socket.connect()  # type: ignore[no-untyped-call]
            _log.info("slack: Socket Mode connected")
            self.listening.set()
            self.report()
            await self._watch_socket(socket)
        except TimeoutError as exc:
            raise ConnectorError("Slack Socket Mode did not connect in time") from exc
        finally:
            self.listening.clear()
            await _close_socket(socket)

    async def _watch_socket(self, socket: SocketModeClient) -> None:
        """Until stopped, tell the operator endpoint when the SDK's session drops
        (``"reconnecting"``; the SDK reconnects by itself) and when it is back (``"up"``)."""
        connected = True
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._ping_interval)
            now = await socket.is_connected()
            if now != connected and not self._stopping.is_set():
                connected = now
                _log.info("slack: Socket Mode %s", "connected" if now else "disconnected")
                self.report("up" if now else "reconnecting")

    async def _on_envelope(
        self, socket: AsyncBaseSocketModeClient, request: SocketModeRequest
    ) -> None:
        self.report()  # an event: "seconds since the last event" starts again
        try:
            if request.type == "events_api":
                await self._on_event(request.payload)
            elif request.type == "interactive":
                await self._on_action(request.payload)
        except ConnectorError as exc:  # not acked: Slack sends the envelope again
            _log.warning("slack: envelope %s not taken: %s", request.envelope_id, exc)
            return
        await socket.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    async def _run_events(self) -> None:
        assert self._signing_secret is not None
        server = EventsServer(
            host=self._events_host,
            port=self._events_port,
            path=self._events_path,
            signing_secret=self._signing_secret,
            on_event=self._on_event,
            on_action=self._on_action,
            read_timeout=self._request_timeout,
        )
        await server.start()
        self.events_port = server.port
        _log.info("slack: Events API listening on port %d%s", server.port, self._events_path)
        self.listening.set()
        try:
            await self._stopping.wait()
        finally:
            self.listening.clear()
            await server.stop()

    async def _on_event(self, body: Mapping[str, Any]) -> None:
        event_id = str(body.get("event_id") or "")
        if event_id and event_id in self._seen:
            return  # Slack's retry of an event already taken
        event = body.get("event")
        if isinstance(event, Mapping) and self.me is not None:
            fields = event_fields(event, source=self.name, bot=self.me, scope=self._scope)
            if fields is not None:
                await self._push(fields)
        self._remember(event_id)

    async def _on_action(self, payload: Mapping[str, Any]) -> None:
        if self.me is None:
            return
        fields = action_fields(payload, source=self.name, bot=self.me, scope=self._scope)
        if fields is not None:
            await self._push(fields)

    async def _push(self, fields: dict[str, Any]) -> None:
        if self._sink is None:
            raise ConnectorError("the Slack input is not running")
        try:
            await self._sink(fields)
        except InvalidMessageError as exc:
            _log.debug("slack: message %s refused: %s", fields.get("id"), exc.reason)

    def _remember(self, event_id: str) -> None:
        if event_id:
            self._seen[event_id] = None
            if len(self._seen) > SEEN_EVENTS:
                self._seen.pop(next(iter(self._seen)))

    async def resolve_attachment(self, attachment: Attachment) -> ResolvedFile:
        """A shared file's download: ``Authorization: Bearer`` the bot token, for Slack's
        file hosts only."""
        return media.resolve(attachment, token=self._bot_token or "", api_base=self._api_base)

    # -- output ----------------------------------------------------------------------
    async def send(self, request: Message, response: Reply) -> None:
        """Send ``response`` in ``request``'s thread (see :mod:`connectors.slack.replies`).

        Raises :class:`RateLimitedError` when a 429 asks for more than the cap,
        :class:`DeliveryError` when Slack refuses the message, :class:`ConnectorError`
        when it cannot be reached.
        """
        await self._replies.send(request, response)

    def wants_stream(self, request: Message) -> bool:
        """Stream replies to this connector's own messages, as edits of one message."""
        return self._stream and request.source == self.name

    async def send_chunk(self, request: Message, chunk: str) -> None:
        """Show the reply so far (throttled ``chat.update``; a failed edit only delays)."""
        await self._replies.send_chunk(request, chunk)

    def _require_client(self) -> AsyncWebClient:
        if self._client is None or self.me is None:
            raise ConnectorError("the Slack connector is not open (call open() first)")
        return self._client


async def _close_socket(socket: SocketModeClient) -> None:
    """Close Socket Mode and its HTTP session, also when the input is being cancelled."""
    closing = asyncio.ensure_future(socket.close())  # type: ignore[no-untyped-call]
    try:
        await asyncio.shield(closing)
    except asyncio.CancelledError:
        await closing
        raise
    finally:
        if not socket.aiohttp_client_session.closed:
            await socket.aiohttp_client_session.close()


async def _close_session(client: AsyncWebClient) -> None:
    session = getattr(client, "session", None)
    if session is not None and not session.closed:
        await session.close()


__all__ = ["SEEN_EVENTS", "SlackConnector"]
