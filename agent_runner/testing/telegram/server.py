"""FakeTelegram: a local Telegram Bot API that python-telegram-bot and aiogram connect to."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
from aiohttp import web

from agent_runner.testing.telegram.api import BotApi, RateLimitRule
from agent_runner.testing.telegram.files import FakeFiles
from agent_runner.testing.telegram.objects import (
    FakeChat,
    FakeMessage,
    FakeUser,
    RecordedEdit,
    entity,
)


class FakeTelegram:
    """A local Telegram with one bot, a user (:attr:`user`), a group and a private chat.

    Args:
        token: the bot token it accepts (URLs ``/bot<token>/<method>``).
        bot_username: the bot's username (mentions are ``@bot_username``).
        clock: the time source for :attr:`edits` and :attr:`sent_at` (inject a test clock
            to assert on intervals without sleeping).
        webhook_retry_delay: seconds before a failed webhook delivery is tried again.
        webhook_attempts: deliveries of one update before the fake gives up on it.
        host: the interface to listen on.
    """

    def __init__(
        self,
        *,
        token: str = "123456:fake-telegram-token",
        bot_username: str = "agent_bot",
        clock: Callable[[], float] = time.monotonic,
        webhook_retry_delay: float = 0.05,
        webhook_attempts: int = 5,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self.clock = clock
        self._host = host
        self._port = 0
        self._ids = itertools.count(1001)
        self.bot = FakeUser(int(token.split(":")[0]), "Agent", bot_username, is_bot=True)
        self.user = self.new_user("Alice", "alice")
        self.chats: dict[int, FakeChat] = {}
        self.group = self.add_group("Test Group")
        self.private = self.private_chat(self.user)
        self.messages: dict[int, list[FakeMessage]] = {}
        self.edits: list[RecordedEdit] = []
        """Every ``editMessageText``, in order, stamped with :attr:`clock`."""
        self.sent_at: list[float] = []
        self.sent_count = 0
        """Messages the bot sent, in every chat."""
        self.actions: list[tuple[int, str]] = []
        """``sendChatAction`` calls: ``(chat_id, action)``."""
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self.answered_callbacks: list[str] = []
        self.requests: list[tuple[str, int]] = []
        """Every Bot API call: ``(method, HTTP status)``."""
        self.rate_limited = 0
        self.polls = 0
        self.conflicts = 0
        """``getUpdates`` calls that arrived while another client's long poll was still open
        (two bot instances polling at once; the older poll is answered 409 Conflict)."""
        self.closing = False
        self.allowed_updates: list[str] = []
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.deliveries: list[tuple[int, int]] = []
        """Webhook POSTs: ``(update_id, HTTP status)`` (0 when the request failed)."""
        self.next_update_id = 500_000_001
        self._updates: list[tuple[int, dict[str, Any]]] = []
        self._delivered: list[tuple[int, dict[str, Any]]] = []
        self._history: list[tuple[int, dict[str, Any]]] = []
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._changed = asyncio.Event()
        self._retry_delay = webhook_retry_delay
        self._attempts = webhook_attempts
        self.files = FakeFiles(self)
        """Files users sent and the bot uploaded (:class:`FakeFiles`)."""
        self._api = BotApi(self)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._pusher: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)  # uploads up to 50 MB
        app.router.add_route("*", "/bot{token}/{method}", self._api.handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self.files.serve)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5.0))

    async def stop(self) -> None:
        self.closing = True  # long polls in progress answer now
        self.notify()
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The Bot API root, like ``https://api.telegram.org``."""
        return f"http://{self._host}:{self._port}"

    def env(self) -> dict[str, str]:
        """``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_API_BASE`` for this server."""
        return {"TELEGRAM_BOT_TOKEN": self.token, "TELEGRAM_API_BASE": self.url}

    # -- the world -------------------------------------------------------------------
    def new_user(
        self, first_name: str, username: str | None = None, *, bot: bool = False
    ) -> FakeUser:
        return FakeUser(next(self._ids), first_name, username, is_bot=bot)

    def add_group(self, title: str, *, supergroup: bool = True) -> FakeChat:
        chat_id = -1_000_000_000_000 - next(self._ids) if supergroup else -next(self._ids)
        chat = FakeChat(chat_id, "supergroup" if supergroup else "group", title)
        self.chats[chat.id] = chat
        return chat

    def private_chat(self, user: FakeUser) -> FakeChat:
        chat = self.chats.get(user.id) or FakeChat(user.id, "private", user=user)
        self.chats[chat.id] = chat
        return chat

    def next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def add_message(self, message: FakeMessage) -> FakeMessage:
        self.messages.setdefault(message.chat.id, []).append(message)
        if message.author.id == self.bot.id:
            self.sent_count += 1
        return message

    def find(self, chat_id: int, message_id: int) -> FakeMessage | None:
        for message in self.messages.get(chat_id, ()):
            if message.message_id == message_id:
                return message
        return None

    # -- acting as users -------------------------------------------------------------
    def send_user_message(
        self,
        chat: FakeChat,
        text: str,
        *,
        author: FakeUser | None = None,
        mention_bot: bool = False,
        command: str | None = None,
        reply_to: FakeMessage | None = None,
        thread_id: int | None = None,
    ) -> FakeMessage:
        """A user writes in ``chat``; the update is queued (getUpdates) or posted (webhook).

        ``mention_bot`` prefixes ``@bot_username``; ``command`` prefixes ``/command`` (write
        ``"ask@other_bot"`` for another bot's). Entities are set as Telegram sets them.
        """
        author = author or (chat.user if chat.type == "private" and chat.user else self.user)
        prefix = f"/{command} " if command else ""
        if mention_bot:
            prefix += f"@{self.bot.username} "
        full = prefix + text
        entities = []
        if command:
            entities.append(entity("bot_command", full, 0, len(command) + 1))
        if mention_bot:
            start = full.index(f"@{self.bot.username}")
            entities.append(entity("mention", full, start, len(self.bot.username or "") + 1))
        message = self.add_message(
            FakeMessage(
                message_id=self.next_message_id(chat.id),
                chat=chat,
                author=author,
                text=full,
                entities=entities,
                reply_to=reply_to,
                thread_id=thread_id,
            )
        )
        self.push_update({"message": message.payload()})
        return message

    def send_user_file(self, chat: FakeChat, data: bytes, **options: Any) -> FakeMessage:
        """A user sends a photo or a document (:meth:`FakeFiles.send_user_file`)."""
        return self.files.send_user_file(chat, data, **options)

    def press_button(
        self, message: FakeMessage, value: str, *, author: FakeUser | None = None
    ) -> str:
        """A user presses the inline button with callback data ``value``; the query id."""
        if value not in [data for _, data in message.buttons]:
            raise ValueError(f"message {message.message_id} has no button {value!r}")
        query_id = str(next(self._ids) * 7919)
        user = author or self.user
        query = {
            "id": query_id,
            "from": user.payload(),
            "message": message.payload(),
            "chat_instance": str(message.chat.id),
            "data": value,
        }
        self.callback_queries[query_id] = query
        self.push_update({"callback_query": query})
        return query_id

    def push_update(self, body: dict[str, Any]) -> int:
        """Queue a raw update (``{"message": {...}}`` and the like); its update_id."""
        update_id = self.next_update_id
        self.next_update_id += 1
        self._updates.append((update_id, {"update_id": update_id, **body}))
        self._history.append(self._updates[-1])
        self.notify()
        return update_id

    def requeue_all(self) -> int:
        """Serve every update ever sent again, as if no poll had confirmed any (a bot that
        lost its offset); the number requeued."""
        pending = {uid for uid, _ in self._updates}
        again = [item for item in self._history if item[0] not in pending]
        self._updates = sorted([*again, *self._updates], key=lambda item: item[0])
        self.notify()
        return len(again)

    # -- updates, for the API --------------------------------------------------------
    def confirm(self, offset: int) -> None:
        """Forget updates below ``offset`` (getUpdates' confirmation)."""
        self._updates = [(uid, body) for uid, body in self._updates if uid >= offset]

    def pending_updates(self, limit: int) -> list[dict[str, Any]]:
        wanted = self.allowed_updates
        chosen = [
            body for _, body in self._updates if not wanted or any(kind in body for kind in wanted)
        ]
        return chosen[:limit]

    def set_webhook(self, url: str | None, secret: str | None) -> None:
        self.webhook_url, self.webhook_secret = url, secret
        if url is not None and (self._pusher is None or self._pusher.done()):
            self._pusher = asyncio.ensure_future(self._push_webhooks())
        self.notify()

    async def deliver(self, update_id: int) -> int:
        """POST one update to the webhook now (as Telegram retries one); the HTTP status."""
        for uid, body in [*self._updates, *self._delivered]:
            if uid == update_id:
                return await self._post(uid, body)
        raise KeyError(update_id)

    async def _post(self, update_id: int, body: dict[str, Any]) -> int:
        assert self._session is not None and self.webhook_url is not None
        headers = {}
        if self.webhook_secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
        try:
            async with self._session.post(self.webhook_url, json=body, headers=headers) as resp:
                status = resp.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.deliveries.append((update_id, status))
        self.notify()
        return status

    async def _push_webhooks(self) -> None:
        while self.webhook_url is not None:
            if not self._updates:
                await self.changed()
                continue
            update_id, body = self._updates[0]
            for _ in range(self._attempts):
                if 200 <= await self._post(update_id, body) < 300:
                    break
                await asyncio.sleep(self._retry_delay)
            self._updates = [(u, b) for u, b in self._updates if u != update_id]
            self._delivered.append((update_id, body))

    # -- reading what the bot did ----------------------------------------------------
    def sent_in(self, chat: FakeChat | int) -> list[FakeMessage]:
        """What the bot sent in a chat, oldest first."""
        chat_id = chat if isinstance(chat, int) else chat.id
        return [m for m in self.messages.get(chat_id, []) if m.author.id == self.bot.id]

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
        chat: FakeChat | int,
        count: int,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[FakeMessage]:
        """Wait until the bot sent at least ``count`` messages in ``chat``; return them."""
        await self.wait_until(lambda: len(self.sent_in(chat)) >= count, timeout=timeout)
        return self.sent_in(chat)

    # -- misbehaving -----------------------------------------------------------------
    def rate_limit_next(
        self,
        count: int,
        *,
        retry_after: float = 1,
        method: str | None = "sendMessage",
        after: int = 0,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` (None: any) with 429 and
        ``parameters.retry_after``, after letting ``after`` of them through."""
        self._api.limits.append(RateLimitRule(method, count, retry_after, after))


__all__ = ["FakeTelegram"]
