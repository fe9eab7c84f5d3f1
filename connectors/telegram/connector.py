"""Telegram, input and output, on python-telegram-bot: messages in, replies out (as replies).

Why python-telegram-bot and not aiogram: its ``telegram.Bot`` is a plain async client of the
Bot API (one method per API method, no dispatcher to adopt), it depends only on httpx, and
it leaves our pinned stack alone; aiogram 3 pins ``pydantic<2.14`` (this project runs on
2.14) and brings its own dispatcher and middleware model. Neither retries a 429 itself: the
connector owns the waits and caps them (:mod:`connectors.telegram.calls`).

Input, two modes:

- ``polling`` (default): ``getUpdates`` long polls. The offset (the next update id) is kept
  as a store cursor and moves only after the runner journaled the updates, so a restart
  neither loses an update nor answers one twice (a redelivered update is the same runner
  message, which the journal knows).
- ``webhook``: Telegram POSTs updates to ``webhook_url``; a local server (``webhook_host``,
  ``webhook_port``, the URL's path) checks ``X-Telegram-Bot-Api-Secret-Token`` on every
  request and answers 200 once the update is journaled; Telegram's retry of the same update
  is answered once.

Which messages are answered, how replies are split, streamed and given buttons: see
:mod:`connectors.telegram.convert` and :mod:`connectors.telegram.replies`.

Example:
    ::

        from agent_runner import AgentRuntime
        from connectors.telegram import TelegramConnector

        telegram = TelegramConnector()          # TELEGRAM_BOT_TOKEN etc. from the environment
        runtime = AgentRuntime([telegram], [telegram], agent)
        await runtime.run()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from functools import partial
from typing import Any, Literal
from urllib.parse import urlsplit

from agent_runner.backoff import RetryPolicy
from agent_runner.connector import Accepted, BaseConnector, Sink, account_key
from agent_runner.errors import ConfigurationError, ConnectorError, InvalidMessageError
from agent_runner.handover import Handover
from agent_runner.media import ResolvedFile
from agent_runner.message import Attachment, Message, Reply
from agent_runner.store import Store
from connectors._chat import TypingIndicators
from connectors._chat.calls import capped
from connectors.telegram import media
from connectors.telegram.calls import (
    DEFAULT_RETRY,
    TRANSIENT_ERRORS,
    telegram_caller,
)
from connectors.telegram.convert import BotIdentity, Scope, callback_fields, message_fields
from connectors.telegram.polling import ALLOWED_UPDATES, Poller
from connectors.telegram.replies import TelegramReplies
from connectors.telegram.sdk import build_bot, install_redaction, telegram
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.webhook import WebhookServer

_log = logging.getLogger("connectors.telegram")
TYPING_REFRESH = 4.5
"""Seconds between ``typing`` actions (Telegram shows one for 5 s)."""
_TYPING_ERRORS: tuple[type[BaseException], ...] = (telegram.error.TelegramError, *TRANSIENT_ERRORS)


class TelegramConnector(BaseConnector):
    """A Telegram bot: input (updates) and output (replies), both named ``telegram``.

    Every option left ``None`` comes from the environment (:class:`TelegramSettings`,
    ``TELEGRAM_*``), then from the default shown.

    Args:
        token: the bot token (``TELEGRAM_BOT_TOKEN``). Required.
        api_base: Bot API root (default ``https://api.telegram.org``).
        mode: ``"polling"`` or ``"webhook"``.
        webhook_url: the public URL Telegram posts to (webhook mode).
        webhook_secret: the secret token checked on every webhook request (webhook mode).
        webhook_host, webhook_port: where the webhook server listens.
        chat_ids: group chats to answer in; empty: every group the bot is in.
        commands: commands that address the bot in groups (default ``("ask",)``).
        direct_messages: answer private chats (default True).
        poll_timeout: long-poll seconds per ``getUpdates`` (default 30).
        max_retry_after: the longest 429 wait obeyed (default 30 s); longer fails the call.
        post_chat_id: where replies to other inputs' messages (cron) go.
        typing: show "typing…" while the agent works (default True).
        typing_delay: seconds before typing shows (a quick reply needs none).
        typing_timeout: stop typing after this long without a reply.
        stream: show streamed replies as edits of one message (default True).
        stream_interval: least seconds between two edits of a streamed reply (default 1.5).
        retry: 429 waits (default :data:`connectors.telegram.calls.DEFAULT_RETRY`, with
            ``max_retry_after`` as its per-wait cap).
        request_timeout: seconds per Bot API call (a long poll gets ``poll_timeout`` more).
        clock: the time source of streaming edits (injected in tests).
        sleep: how 429 waits sleep (injected in tests).
        settings: read options from this instead of the environment.
        name: the connector's name (default ``telegram``).
    """

    name = "telegram"

    def __init__(
        self,
        *,
        token: str | None = None,
        api_base: str | None = None,
        mode: Literal["polling", "webhook"] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_host: str | None = None,
        webhook_port: int | None = None,
        chat_ids: Collection[int | str] | None = None,
        commands: Collection[str] | None = None,
        direct_messages: bool | None = None,
        poll_timeout: int | None = None,
        max_retry_after: float | None = None,
        post_chat_id: int | str | None = None,
        typing: bool = True,
        typing_delay: float = 0.5,
        typing_timeout: float = 60.0,
        stream: bool = True,
        stream_interval: float = 1.5,
        retry: RetryPolicy | None = None,
        request_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        settings: TelegramSettings | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        env = settings if settings is not None else TelegramSettings.load()
        secret = env.bot_token.get_secret_value() if env.bot_token else None
        self._token = token if token is not None else secret
        if not self._token:
            raise ConfigurationError("the Telegram connector needs TELEGRAM_BOT_TOKEN")
        base = api_base if api_base is not None else env.api_base
        self._api_base = (base or "https://api.telegram.org").rstrip("/")
        self._mode = mode or env.mode
        self.single_consumer = self._mode == "polling"  # one getUpdates poller per bot
        self.lease_account = account_key(self._token)
        self._webhook_url = webhook_url if webhook_url is not None else env.webhook_url
        hook_secret = env.webhook_secret.get_secret_value() if env.webhook_secret else None
        self._webhook_secret = webhook_secret if webhook_secret is not None else hook_secret
        if self._mode == "webhook" and not (self._webhook_url and self._webhook_secret):
            raise ConfigurationError(
                "TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET"
            )
        self._webhook_host = webhook_host if webhook_host is not None else env.webhook_host
        self._webhook_port = webhook_port if webhook_port is not None else env.webhook_port
        self._scope = Scope(
            chat_ids=frozenset(int(c) for c in (env.chat_ids if chat_ids is None else chat_ids)),
            commands=frozenset(
                c.lstrip("/").lower() for c in (env.commands if commands is None else commands)
            ),
            direct_messages=env.direct_messages if direct_messages is None else direct_messages,
        )
        self._poll_timeout = env.poll_timeout if poll_timeout is None else poll_timeout
        if self._mode == "polling":  # each long poll ends within this: /readyz watches it
            self.progress_interval = self._poll_timeout + request_timeout
        cap = env.max_retry_after if max_retry_after is None else max_retry_after
        policy = capped(retry or DEFAULT_RETRY, cap)
        self._caller = telegram_caller(policy, timeout=request_timeout, sleep=sleep)
        post = post_chat_id if post_chat_id is not None else env.post_chat_id
        self._replies = TelegramReplies(
            source=self.name,
            caller=self._caller,
            post_chat_id=int(post) if post is not None else None,
            stream_interval=stream_interval,
            clock=clock,
        )
        self._typing = typing
        self._typists = TypingIndicators(
            refresh=TYPING_REFRESH,
            delay=typing_delay,
            timeout=typing_timeout,
            request_timeout=request_timeout,
            errors=_TYPING_ERRORS,
        )
        self._stream = stream
        self._request_timeout = request_timeout
        self._store: Store | None = None
        self._bot: telegram.Bot | None = None
        self.me: BotIdentity | None = None
        self._seen_updates: dict[int, None] = {}
        self._sink: Sink | None = None

    # -- lifecycle -------------------------------------------------------------------
    def bind_store(self, store: Store) -> None:
        """Keep the update offset (and streamed message ids) in the runner's store."""
        self._store = store
        self._replies.live.store = store

    @property
    def rate_limit_waits(self) -> list[float]:
        """Every 429 wait taken so far, in seconds."""
        return self._caller.waits

    async def open(self) -> None:
        """Check the token with ``getMe``; in polling mode, remove a leftover webhook."""
        if self._bot is not None:
            return
        assert self._token is not None
        install_redaction()
        bot = build_bot(self._token, self._api_base, timeout=self._request_timeout)
        try:
            await self._caller("getMe", bot.initialize)
            if self._mode == "polling":
                await self._caller("deleteWebhook", bot.delete_webhook)
        except BaseException:
            await bot.shutdown()
            raise
        self._bot = bot
        self._replies.bot = bot
        self.me = BotIdentity(bot.id, bot.username)
        _log.info("telegram: signed in as @%s (%s), %s mode", bot.username, bot.id, self._mode)

    async def close(self) -> None:
        """Stop typing and close the HTTP clients. Safe to call twice."""
        self._typists.close()
        bot, self._bot = self._bot, None
        self._replies.bot = None
        if bot is not None:
            await bot.shutdown()

    async def run(self, sink: Sink) -> None:
        """Take updates (long polling or the webhook) until stopped."""
        self._require_bot()
        self._sink = sink
        if self._mode == "webhook":
            await self._serve_webhook()
        else:
            await self._poll(sink)

    # -- input -----------------------------------------------------------------------
    async def _poll(self, sink: Sink) -> None:
        assert self.me is not None
        handover = Handover(sink)  # nobody outside waits on a poll: no commit per update
        poller = Poller(
            bot=self._require_bot(),
            store=self._store,
            cursor=f"telegram:{self.name}:{self.me.id}:offset",
            poll_timeout=self._poll_timeout,
            request_timeout=self._request_timeout,
            take=lambda update: self._take(update, handover),
            durable=handover.durable,
            stopping=self._stopping,
            report=self.report,
        )
        await poller.run()

    async def _serve_webhook(self) -> None:
        bot = self._require_bot()
        assert self._webhook_url is not None and self._webhook_secret is not None
        server = WebhookServer(
            host=self._webhook_host,
            port=self._webhook_port,
            path=urlsplit(self._webhook_url).path or "/",
            secret=self._webhook_secret,
            handle=self._on_webhook,
            read_timeout=self._request_timeout,
        )
        await server.start()
        try:
            await self._caller(
                "setWebhook",
                lambda: bot.set_webhook(
                    self._webhook_url or "",
                    secret_token=self._webhook_secret,
                    allowed_updates=list(ALLOWED_UPDATES),
                ),
            )
            _log.info("telegram: webhook set, listening on port %d", server.port)
            await self._stopping.wait()
        finally:
            await server.stop()

    @property
    def webhook_port(self) -> int:
        """The webhook server's port (useful with ``webhook_port=0``)."""
        return self._webhook_port

    async def _on_webhook(self, data: dict[str, Any]) -> None:
        if self._sink is None or self._bot is None:
            raise ConnectorError("the Telegram input is not running")
        update = telegram.Update.de_json(data, self._bot)
        await self._take(update, self._sink)

    async def _take(self, update: telegram.Update, sink: Sink | Handover) -> None:
        """Hand one update to the runner (a Handover when polling); raises if it cannot.
        It counts as seen once journaled (a failed hand-over is read again: see Poller)."""
        if update.update_id in self._seen_updates:
            return
        fields = self._fields(update)
        accepted: Accepted | asyncio.Future[Accepted] = Accepted("", duplicate=True)
        if fields is not None:
            try:
                accepted = await sink(fields)
                if update.callback_query is not None:
                    await self._acknowledge(update.callback_query)
            except InvalidMessageError as exc:
                _log.debug("telegram: update %s refused: %s", update.update_id, exc.reason)
        taken = partial(self._taken, update.update_id, fields)
        if isinstance(accepted, asyncio.Future):
            return accepted.add_done_callback(taken)
        taken(accepted)

    def _taken(self, update_id: int, fields: Any, got: Accepted | asyncio.Future[Accepted]) -> None:
        if isinstance(got, asyncio.Future):
            if got.cancelled() or got.exception() is not None:
                return
            got = got.result()
        if not got.duplicate and self._typing and "button" not in fields["metadata"]:
            self._start_typing(fields)
        self._seen_updates[update_id] = None
        if len(self._seen_updates) > 10_000:
            self._seen_updates.pop(next(iter(self._seen_updates)))

    def _fields(self, update: telegram.Update) -> dict[str, Any] | None:
        assert self.me is not None
        if update.message is not None:
            message = update.message
            replied = message.reply_to_message
            depth = self._replies.depth_of(
                message.chat.id, replied.message_id if replied is not None else None
            )
            return message_fields(
                message, source=self.name, bot=self.me, scope=self._scope, depth=depth
            )
        if update.callback_query is not None:
            return callback_fields(
                update.callback_query, source=self.name, bot=self.me, scope=self._scope
            )
        return None

    async def _acknowledge(self, query: telegram.CallbackQuery) -> None:
        bot = self._require_bot()
        try:
            await self._caller("answerCallbackQuery", lambda: bot.answer_callback_query(query.id))
        except ConnectorError as exc:  # the press is taken; only the spinner stays longer
            _log.info("telegram: could not acknowledge button press %s: %s", query.id, exc)

    # -- typing ----------------------------------------------------------------------
    def _start_typing(self, fields: dict[str, Any]) -> None:
        bot, message_id = self._require_bot(), fields["id"]
        chat_id, thread_id = fields["metadata"]["chat_id"], fields["metadata"].get("thread_id")
        self._typists.start(
            message_id,
            lambda: bot.send_chat_action(
                chat_id, telegram.constants.ChatAction.TYPING, message_thread_id=thread_id
            ),
            chat=f"{chat_id}:{thread_id}",
        )

    async def complete(self, message: Message) -> None:
        """The runner handled ``message``: stop showing typing."""
        self._typists.stop(message.id)

    # -- output ----------------------------------------------------------------------
    async def send(self, request: Message, response: Reply) -> None:
        """Send ``response`` as a reply to ``request`` (see :mod:`connectors.telegram.replies`).

        Raises :class:`RateLimitedError` when flood control asks for more than the cap,
        :class:`DeliveryError` when Telegram refuses the message, :class:`ConnectorError`
        when it cannot be reached.
        """
        if request.source == self.name:
            self._typists.stop(request.id)
        await self._replies.send(request, response)

    def wants_stream(self, request: Message) -> bool:
        """Stream replies to this connector's own messages, as edits of one message."""
        return self._stream and request.source == self.name

    async def send_chunk(self, request: Message, chunk: str) -> None:
        """Show the reply so far (throttled edits; a failed edit only delays the next)."""
        self._typists.stop(request.id)
        await self._replies.send_chunk(request, chunk)

    async def resolve_attachment(self, attachment: Attachment) -> ResolvedFile:
        """Where a photo's or document's bytes are (``getFile``; the URL holds the token)."""
        return await media.resolve(self._caller, self._require_bot(), attachment, self._api_base)

    def _require_bot(self) -> telegram.Bot:
        if self._bot is None or self.me is None:
            raise ConnectorError("the Telegram connector is not open (call open() first)")
        return self._bot


__all__ = ["TYPING_REFRESH", "TelegramConnector"]
