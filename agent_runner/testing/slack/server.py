"""FakeSlack: a local Slack (Web API, Socket Mode, Events API) that slack_sdk connects to."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from agent_runner.testing.slack.files import SlackFiles
from agent_runner.testing.slack.objects import FakeSlackMessage, FakeSlackUser, RecordedUpdate
from agent_runner.testing.slack.socket import SocketMode
from agent_runner.testing.slack.webapi import RateLimitRule, WebApi


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's ``X-Slack-Signature`` for a request body."""
    import hashlib
    import hmac

    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class FakeSlack:
    """A local Slack workspace with a bot, a user (:attr:`user`), a channel and a DM.

    Events go over Socket Mode (the default: to a bot connected with the app token) or,
    after :meth:`use_events_api`, as signed POSTs to a request URL.

    Args:
        bot_token, app_token: the tokens it accepts (``xoxb-``, ``xapp-``).
        signing_secret: signs Events API requests.
        clock: the time source of :attr:`updates` and :attr:`sent_at` (inject a test clock).
        ack_timeout: seconds before an unacknowledged envelope is sent again.
        attempts: deliveries of one envelope or event (the first and Slack's retries).
        retry_delay: seconds before an Events API delivery is retried.
        host: the interface to listen on.
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-fake-bot-token",
        app_token: str = "xapp-fake-app-token",
        signing_secret: str = "fake-signing-secret",
        clock: Callable[[], float] = time.monotonic,
        ack_timeout: float = 0.5,
        attempts: int = 4,
        retry_delay: float = 0.05,
        host: str = "127.0.0.1",
    ) -> None:
        self.bot_token, self.app_token, self.signing_secret = bot_token, app_token, signing_secret
        self.clock = clock
        self._host, self._port = host, 0
        self.team_id, self.app_id = "T0FAKE", "A0FAKEAPP"
        self.bot = FakeSlackUser("U0BOT", "agent", bot_id="B0BOT")
        self.user = FakeSlackUser("U0ALICE", "alice")
        self.channel = "C0GENERAL"
        self.dm = "D0ALICE"
        self.channels: dict[str, list[FakeSlackMessage]] = {self.channel: [], self.dm: []}
        self.updates: list[RecordedUpdate] = []
        """Every ``chat.update``, in order, stamped with :attr:`clock`."""
        self.sent_at: list[float] = []
        self.sent_count = 0
        """Messages the bot posted, in every channel."""
        self.requests: list[tuple[str, str]] = []
        """Every Web API call: ``(method, "ok" or the error)``."""
        self.acks: list[str] = []
        self.deliveries: list[tuple[str, int, int]] = []
        """Events API POSTs: ``(event_id, retry number, HTTP status or 0)``."""
        self.rate_limited = 0
        self.request_url: str | None = None
        self._ts = itertools.count(1)
        self._event_ids = itertools.count(1)
        self._retry_delay, self._attempts = retry_delay, attempts
        self._changed = asyncio.Event()
        self.files = SlackFiles(self)
        """Files users shared and the bot uploaded (:class:`SlackFiles`)."""
        self._api = WebApi(self)
        self._socket = SocketMode(self, ack_timeout=ack_timeout, attempts=attempts)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._events: dict[str, dict[str, Any]] = {}

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/link/", self._socket.handle)
        self.files.routes(app)
        app.router.add_route("*", "/api/{method}", self._api.handle)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.1
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, 0).start()
        self._port = int(self._runner.addresses[0][1])
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5.0))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._socket.close()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The Web API root, like ``https://slack.com/api/``."""
        return f"http://{self._host}:{self._port}/api/"

    @property
    def root_url(self) -> str:
        """The server's root (file downloads and upload URLs live beside ``/api/``)."""
        return f"http://{self._host}:{self._port}"

    @property
    def socket_url(self) -> str:
        return f"ws://{self._host}:{self._port}/link/?ticket=fake"

    def env(self) -> dict[str, str]:
        """``SLACK_BOT_TOKEN``, ``SLACK_APP_TOKEN`` and ``SLACK_API_BASE`` for this server."""
        return {
            "SLACK_BOT_TOKEN": self.bot_token,
            "SLACK_APP_TOKEN": self.app_token,
            "SLACK_API_BASE": self.url,
        }

    def use_events_api(self, request_url: str) -> None:
        """Deliver events as signed POSTs to ``request_url`` instead of over Socket Mode."""
        self.request_url = request_url

    # -- the world -------------------------------------------------------------------
    def new_user(self, name: str, *, bot: bool = False) -> FakeSlackUser:
        number = next(self._ts)
        return FakeSlackUser(f"U0{name.upper()}{number}", name, f"B0{number}" if bot else None)

    def add_channel(self, channel_id: str) -> str:
        self.channels.setdefault(channel_id, [])
        return channel_id

    def next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    def find(self, channel: str, ts: str) -> FakeSlackMessage | None:
        for message in self.channels.get(channel, ()):
            if message.ts == ts:
                return message
        return None

    async def add_message(self, message: FakeSlackMessage) -> None:
        """Store a message and send its events (``message``; ``app_mention`` if it mentions
        the bot in a channel), as an app subscribed to both gets them."""
        self.channels[message.channel].append(message)
        if message.user.id == self.bot.id:
            self.sent_count += 1
        is_dm = message.channel.startswith("D")
        event = message.payload() | {
            "channel": message.channel,
            "event_ts": message.ts,
            "channel_type": "im" if is_dm else "channel",
            "team": self.team_id,
        }
        await self.send_event(event)
        if not is_dm and f"<@{self.bot.id}>" in message.text:
            mention = {k: v for k, v in event.items() if k != "channel_type"}
            await self.send_event(mention | {"type": "app_mention"})
        self.notify()

    # -- acting as users -------------------------------------------------------------
    async def post_user_message(
        self,
        channel: str,
        text: str,
        *,
        user: FakeSlackUser | None = None,
        mention_bot: bool = False,
        thread_ts: str | None = None,
    ) -> FakeSlackMessage:
        """A user writes in ``channel`` (``mention_bot`` prefixes ``<@bot>``)."""
        body = f"<@{self.bot.id}> {text}" if mention_bot else text
        message = FakeSlackMessage(channel, self.next_ts(), user or self.user, body, thread_ts)
        await self.add_message(message)
        return message

    async def press_button(
        self, message: FakeSlackMessage, value: str, *, user: FakeSlackUser | None = None
    ) -> dict[str, Any]:
        """A user presses the button with ``value`` on ``message``; the payload sent."""
        for block in message.blocks:
            for element in block.get("elements", []):
                if element.get("type") == "button" and element.get("value") == value:
                    break
            else:
                continue
            break
        else:
            raise ValueError(f"message {message.ts} has no button {value!r}")
        who = user or self.user
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": message.channel,
            "is_ephemeral": False,
        }
        if message.thread_ts:
            container["thread_ts"] = message.thread_ts
        payload = {
            "type": "block_actions",
            "user": {"id": who.id, "username": who.name, "name": who.name, "team_id": self.team_id},
            "api_app_id": self.app_id,
            "token": "fake-verification",
            "container": container,
            "trigger_id": f"{next(self._ts)}.trigger",
            "team": {"id": self.team_id, "domain": "fake"},
            "channel": {"id": message.channel, "name": message.channel.lower()},
            "message": message.payload(),
            "actions": [
                {
                    "action_id": element["action_id"],
                    "block_id": block.get("block_id", ""),
                    "text": element["text"],
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        if self.request_url is not None:
            await self._post_form(payload)
        else:
            await self._socket.deliver("interactive", payload)
        return payload

    # -- delivery --------------------------------------------------------------------
    async def resend_envelope(self, envelope_id: str) -> None:
        """Send a Socket Mode envelope again, as Slack does when it missed the ack."""
        await self._socket.resend(envelope_id)

    @property
    def envelope_ids(self) -> list[str]:
        """Every Socket Mode envelope sent, in order."""
        return list(self._socket.envelopes)

    async def send_event(self, event: dict[str, Any]) -> str:
        """Wrap ``event`` in an ``event_callback`` and deliver it; its ``event_id``."""
        event_id = f"Ev{next(self._event_ids):08d}"
        body = {
            "token": "fake-verification",
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "user_id": self.bot.id, "is_bot": True}],
        }
        self._events[event_id] = body
        if self.request_url is not None:
            self._spawn(self._post_with_retries(event_id))
        else:
            await self._socket.deliver("events_api", body)
        return event_id

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver_again(self, event_id: str, retry: int = 1) -> int:
        """POST an event again as Slack's retry number ``retry``; the HTTP status."""
        return await self._post_event(event_id, retry)

    async def _post_with_retries(self, event_id: str) -> None:
        for retry in range(self._attempts):
            if 200 <= await self._post_event(event_id, retry) < 300:
                return
            await asyncio.sleep(self._retry_delay)

    async def _signed_post(self, body: bytes, content_type: str, extra: dict[str, str]) -> int:
        assert self._session is not None and self.request_url is not None
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(self.signing_secret, timestamp, body),
            **extra,
        }
        try:
            async with self._session.post(self.request_url, data=body, headers=headers) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError):
            return 0

    async def _post_event(self, event_id: str, retry: int) -> int:
        extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_error"}
        body = json.dumps(self._events[event_id]).encode()
        status = await self._signed_post(body, "application/json", extra if retry else {})
        self.deliveries.append((event_id, retry, status))
        self.notify()
        return status

    async def _post_form(self, payload: dict[str, Any]) -> int:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self._signed_post(body, "application/x-www-form-urlencoded", {})

    async def verify_url(self, challenge: str = "fake-challenge") -> str:
        """Send the ``url_verification`` challenge; what the app answered."""
        assert self._session is not None and self.request_url is not None
        body = json.dumps(
            {"token": "fake-verification", "challenge": challenge, "type": "url_verification"}
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(self.signing_secret, timestamp, body),
        }
        async with self._session.post(self.request_url, data=body, headers=headers) as resp:
            return str((await resp.json()).get("challenge"))

    # -- reading what the bot did ----------------------------------------------------
    def sent_in(self, channel: str) -> list[FakeSlackMessage]:
        """What the bot posted in a channel, oldest first."""
        return [m for m in self.channels.get(channel, []) if m.user.id == self.bot.id]

    async def drop_socket_mode(self, *, refuse: bool = True) -> None:
        """Close every Socket Mode connection, as Slack does when it moves or restarts; with
        ``refuse``, new connections fail until :meth:`accept_socket_mode` (an outage)."""
        self._socket.refusing = refuse
        await self._socket.drop()

    def accept_socket_mode(self) -> None:
        """End the outage :meth:`drop_socket_mode` started: connections are accepted again."""
        self._socket.refusing = False

    @property
    def connections(self) -> int:
        """Socket Mode connections opened so far."""
        return self._socket.connections

    def changed(self) -> Coroutine[Any, Any, bool]:
        """Await it to return at the next change of state (after the call, not the await)."""
        return self._changed.wait()

    def notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def wait_until(self, predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` holds (re-checked after every change of state)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await self.changed()

    async def wait_for_messages(
        self,
        channel: str,
        count: int,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[FakeSlackMessage]:
        """Wait until the bot posted at least ``count`` messages in ``channel``."""
        await self.wait_until(lambda: len(self.sent_in(channel)) >= count, timeout=timeout)
        return self.sent_in(channel)

    # -- misbehaving -----------------------------------------------------------------
    def rate_limit_next(
        self, count: int, *, retry_after: float = 1, method: str | None = "chat.postMessage"
    ) -> None:
        """Answer the next ``count`` calls of ``method`` (None: any) with 429 and
        ``Retry-After``."""
        self._api.limits.append(RateLimitRule(method, count, retry_after))


__all__ = ["FakeSlack", "sign"]
