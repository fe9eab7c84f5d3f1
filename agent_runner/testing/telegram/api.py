"""The fake Telegram's Bot API methods: parameters as Telegram reads them, its errors."""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from agent_runner.testing.telegram.markup import MarkupError, visible_text
from agent_runner.testing.telegram.objects import FakeMessage, RecordedEdit, utf16_len

if TYPE_CHECKING:
    from agent_runner.testing.telegram.server import FakeTelegram

MAX_TEXT = 4096
"""Telegram's limit on a message's text after formatting, in UTF-16 code units."""
MAX_CALLBACK_DATA = 64
"""Telegram's limit on an inline button's ``callback_data``, in bytes."""
MAX_POLL_TIMEOUT = 50.0
_OBJECT_PARAMS = frozenset(
    {"reply_parameters", "reply_markup", "allowed_updates", "link_preview_options", "entities"}
)


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": status, "description": ...}``."""

    def __init__(
        self, status: int, description: str, parameters: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = dict(parameters or {})


@dataclass(slots=True)
class RateLimitRule:
    """Answer ``remaining`` matching calls with 429, after letting ``skip`` through."""

    method: str | None
    remaining: int
    retry_after: float
    skip: int = 0


async def read_params(request: web.Request) -> dict[str, Any]:
    """Parameters from the query, a JSON body, a form or multipart body (as Telegram takes)."""
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                params[key] = value  # a str, or an uploaded file (web.FileField)
    for key in _OBJECT_PARAMS & params.keys():
        if isinstance(params[key], str):
            try:
                params[key] = json.loads(params[key])
            except json.JSONDecodeError:
                raise ApiError(400, f"Bad Request: can't parse {key} JSON object") from None
    return params


def _int(params: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = params.get(key, default)
    if value is None:
        raise ApiError(400, f"Bad Request: {key} is empty")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {key} specified") from None


class BotApi:
    """The Bot API methods of a :class:`FakeTelegram` (its state lives there)."""

    def __init__(self, fake: FakeTelegram) -> None:
        self._fake = fake
        self.limits: list[RateLimitRule] = []
        self._methods: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "sendchataction": self._send_chat_action,
            "answercallbackquery": self._answer_callback_query,
            **fake.files.methods(),
        }
        self._poller: asyncio.Future[None] | None = None
        self._poller_request: web.Request | None = None

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        fake = self._fake
        if request.match_info["token"] != fake.token:
            return _answer(ApiError(401, "Unauthorized"))
        try:
            call = self._methods.get(method.lower())
            if call is None:
                raise ApiError(404, "Not Found")
            limit = self._take_rate_limit(method)
            if limit is not None:
                fake.rate_limited += 1
                raise ApiError(
                    429,
                    f"Too Many Requests: retry after {limit.retry_after:g}",
                    {"retry_after": limit.retry_after},
                )
            _REQUEST.set(request)
            result = await call(await read_params(request))
        except ApiError as exc:
            fake.requests.append((method, exc.status))
            fake.notify()
            return _answer(exc)
        fake.requests.append((method, 200))
        fake.notify()
        return web.json_response({"ok": True, "result": result})

    def _take_rate_limit(self, method: str) -> RateLimitRule | None:
        for rule in self.limits:
            if rule.remaining > 0 and rule.method in (None, method):
                if rule.skip > 0:
                    rule.skip -= 1
                    return None
                rule.remaining -= 1
                return rule
        return None

    # -- identity and updates --------------------------------------------------------
    async def _get_me(self, params: dict[str, Any]) -> Any:
        return self._fake.bot.payload() | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _get_updates(self, params: dict[str, Any]) -> Any:
        fake = self._fake
        if fake.webhook_url is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        if self._poller is not None and not self._poller.done():
            if _connected(self._poller_request):  # a second bot instance polls at once
                fake.conflicts += 1
            self._poller.set_result(None)  # the older long poll ends with 409
        poller: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters: set[asyncio.Future[Any]]
        self._poller, self._poller_request = poller, _REQUEST.get()
        offset = _int(params, "offset", 0)
        limit = max(1, min(100, _int(params, "limit", 100)))
        timeout = min(MAX_POLL_TIMEOUT, max(0.0, float(params.get("timeout", 0) or 0)))
        if "allowed_updates" in params:
            fake.allowed_updates = list(params["allowed_updates"] or [])
        if offset > 0:
            fake.confirm(offset)
        fake.polls += 1
        fake.notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                updates = fake.pending_updates(limit)
                if updates or loop.time() >= deadline or fake.closing:
                    return updates
                if poller.done():
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that "
                        "only one bot instance is running",
                    )
                changed: asyncio.Future[Any] = asyncio.ensure_future(fake.changed())
                waiters = {changed, poller}
                try:
                    await asyncio.wait(
                        waiters,
                        timeout=deadline - loop.time(),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    changed.cancel()
        finally:
            if self._poller is poller:
                self._poller = self._poller_request = None

    async def _set_webhook(self, params: dict[str, Any]) -> Any:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params)
        secret = params.get("secret_token")
        if secret is not None and not (1 <= len(str(secret)) <= 256):
            raise ApiError(400, "Bad Request: secret token is invalid")
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self._fake.confirm(self._fake.next_update_id)
        if "allowed_updates" in params:
            self._fake.allowed_updates = list(params["allowed_updates"] or [])
        self._fake.set_webhook(url, None if secret is None else str(secret))
        return True

    async def _delete_webhook(self, params: dict[str, Any]) -> Any:
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self._fake.confirm(self._fake.next_update_id)
        self._fake.set_webhook(None, None)
        return True

    async def _get_webhook_info(self, params: dict[str, Any]) -> Any:
        fake = self._fake
        return {
            "url": fake.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(fake.pending_updates(10_000)),
        }

    # -- sending ---------------------------------------------------------------------
    def _text(self, params: dict[str, Any]) -> tuple[str, str | None]:
        raw = str(params.get("text") or "")
        if not raw.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        mode = str(params.get("parse_mode") or "").lower() or None
        if mode not in (None, "html"):
            raise ApiError(400, f"Bad Request: unsupported parse_mode {mode} (the fake: HTML)")
        text = raw
        if mode == "html":
            try:
                text = visible_text(raw)
            except MarkupError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        if not text.strip():
            raise ApiError(400, "Bad Request: text must be non-empty")
        if utf16_len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return text, raw if mode == "html" else None

    def _markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
            raise ApiError(400, "Bad Request: unsupported reply_markup (the fake: inline_keyboard)")
        for row in markup["inline_keyboard"]:
            for button in row:
                data = str(button.get("callback_data", ""))
                if not button.get("text") or not data:
                    raise ApiError(400, "Bad Request: BUTTON_TEXT_INVALID")
                if len(data.encode()) > MAX_CALLBACK_DATA:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    async def _send_message(self, params: dict[str, Any]) -> Any:
        fake = self._fake
        chat = fake.chats.get(_int(params, "chat_id"))
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        text, html = self._text(params)
        markup = self._markup(params)
        reply_to = None
        reference = params.get("reply_parameters")
        if isinstance(reference, dict) and reference.get("message_id") is not None:
            reply_to = fake.find(chat.id, int(reference["message_id"]))
            if reply_to is None and not reference.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
        thread = params.get("message_thread_id")
        message = fake.add_message(
            FakeMessage(
                message_id=fake.next_message_id(chat.id),
                chat=chat,
                author=fake.bot,
                text=text,
                html=html,
                reply_to=reply_to,
                reply_markup=markup,
                thread_id=int(thread) if thread is not None else None,
            )
        )
        fake.sent_at.append(fake.clock())
        return message.payload()

    async def _edit_message_text(self, params: dict[str, Any]) -> Any:
        fake = self._fake
        message = fake.find(_int(params, "chat_id"), _int(params, "message_id"))
        if message is None or message.author.id != fake.bot.id:
            raise ApiError(400, "Bad Request: message to edit not found")
        text, html = self._text(params)
        markup = self._markup(params)
        if (html or text) == (message.html or message.text) and markup == message.reply_markup:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        edit = RecordedEdit(fake.clock(), message.chat.id, message.message_id, text)
        message.text, message.html, message.reply_markup = text, html, markup
        message.edits.append(edit)
        fake.edits.append(edit)
        return message.payload()

    async def _send_chat_action(self, params: dict[str, Any]) -> Any:
        fake = self._fake
        chat_id = _int(params, "chat_id")
        if chat_id not in fake.chats:
            raise ApiError(400, "Bad Request: chat not found")
        fake.actions.append((chat_id, str(params.get("action") or "")))
        return True

    async def _answer_callback_query(self, params: dict[str, Any]) -> Any:
        fake = self._fake
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in fake.callback_queries:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired")
        fake.answered_callbacks.append(query_id)
        return True


_REQUEST: contextvars.ContextVar[web.Request | None] = contextvars.ContextVar(
    "fake_telegram_request", default=None
)
"""The request being answered (each aiohttp handler runs in its own task, its own context)."""


def _connected(request: web.Request | None) -> bool:
    """The client of ``request`` still waits for its answer (its connection is open)."""
    transport = request.transport if request is not None else None
    return transport is not None and not transport.is_closing()


def _answer(exc: ApiError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": exc.status, "description": exc.description}
    if exc.parameters:
        body["parameters"] = exc.parameters
    return web.json_response(body, status=exc.status)


__all__ = ["MAX_CALLBACK_DATA", "MAX_TEXT", "ApiError", "BotApi", "RateLimitRule", "read_params"]
