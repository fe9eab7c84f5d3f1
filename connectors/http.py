"""HTTP connector (aiohttp): a JSON API and an OpenAI-compatible endpoint for your agent.

Routes:

- ``POST /v1/messages``: a JSON message in (see :mod:`connectors._http_messages` for the
  fields), the replies out: ``{"id", "conversation_id", "replies": [{"text": ...}]}``. With
  ``callback_url`` the answer is ``202`` at once and each reply is POSTed there (signed,
  retried, with an ``Idempotency-Key``). A client ``id`` is an idempotency key: a retry gets
  the same replies (or ``409`` while the first is still running or when they are gone).
- ``POST /v1/chat/completions``: OpenAI's chat completions, non-streaming or SSE
  (``"stream": true``), so any OpenAI client or chat UI can talk to the agent.
- ``GET /healthz``: the process is alive. ``GET /readyz``: the runner is started (store open,
  inputs running); ``503`` before and during shutdown.

Safety: a bearer token and/or HMAC-signed requests when configured, a body size limit (413),
per-client rate limiting (429 + ``Retry-After``); every refusal is a 4xx with a JSON body
saying why, and a malformed request never yields a 5xx.

Example:
    >>> from connectors.http import HTTPConnector
    >>> http = HTTPConnector.from_env()      # HTTP_HOST, HTTP_PORT, HTTP_AUTH_TOKEN ...
    >>> # AgentRuntime([http], [http], agent)
    >>> # curl -s localhost:8080/v1/messages -H 'content-type: application/json' \\
    >>> #      -d '{"text": "hello", "conversation_id": "me"}'
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Self

from aiohttp import web
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent_runner.connector import Accepted, BaseConnector, Sink
from agent_runner.errors import (
    ConfigurationError,
    ConnectorError,
    InvalidMessageError,
    StoreError,
)
from agent_runner.message import Message, Reply
from agent_runner.outbound import OutboundGuard
from connectors._http_auth import DEFAULT_WINDOW, Authenticator
from connectors._http_errors import (
    MAX_BODY_KEY,
    RequestError,
    error_body,
    error_middleware,
)
from connectors._http_messages import answer_json, callback_url, parse_message_body
from connectors._http_openai import (
    CONVERSATION_HEADER,
    DONE,
    IDEMPOTENCY_HEADER,
    ChatRequest,
    chunk_json,
    completion_json,
    join_replies,
    parse_chat_request,
    sse_event,
)
from connectors._http_pending import Pending, Waiter
from connectors._http_ratelimit import RateLimiter
from connectors.webhook import WebhookSender

logger = logging.getLogger("connectors.http")


class HTTPSettings(BaseSettings):
    """The HTTP connector's settings, from ``HTTP_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="HTTP_", extra="ignore", env_ignore_empty=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    auth_token: SecretStr | None = None
    hmac_secret: SecretStr | None = None
    callback_secret: SecretStr | None = None
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    rate_limit_per_minute: float = Field(default=600.0, ge=0)
    reply_timeout: float = Field(default=30.0, gt=0)
    trust_forwarded: bool = False


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() or None if value is not None else None


_ID_PREFIX = os.urandom(6).hex()
_id_counter = itertools.count(1)


def _new_id() -> str:
    """A unique message id: a random per-process prefix and a counter (cheaper than uuid4)."""
    return f"{_ID_PREFIX}{next(_id_counter):08x}"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def _decode(body: bytes) -> Any:
    """Decode a JSON body (UTF-8; NaN and Infinity refused) or raise a 400."""
    try:
        text = body.decode("utf-8")
        if not text.strip():
            raise RequestError(400, "body is empty; send a JSON object", code="invalid_json")
        return _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        reason = str(exc)[:200] if isinstance(exc, ValueError) else "nested too deeply"
        raise RequestError(400, f"body is not valid JSON: {reason}", code="invalid_json") from None


class HTTPConnector(BaseConnector):
    """Input and output: serves the HTTP API and answers each request with its replies.

    Args:
        host: interface to listen on (``127.0.0.1``; ``0.0.0.0`` exposes it).
        port: TCP port; ``0`` picks a free one (read :attr:`port` after ``open``).
        auth_token: require ``Authorization: Bearer <token>``.
        hmac_secret: require ``X-Timestamp`` + ``X-Signature`` (HMAC-SHA256 over
            ``f"{timestamp}." + body``). With both set, either is enough.
        callback_secret: signs callbacks (default: ``hmac_secret``).
        max_body_bytes: larger request bodies are refused with 413.
        rate_limit_per_minute: per client address (``0`` turns limiting off).
        rate_limit_burst: requests a client may send at once (default: the per-minute rate).
        reply_timeout: seconds a request waits for its reply before a 504 (for a stream:
            the longest silence between chunks).
        signature_window: seconds a signature's timestamp may be off.
        callback_retries: retries of a callback POST before giving up.
        callback_timeout: seconds for one callback attempt.
        trust_forwarded: rate-limit by the first ``X-Forwarded-For`` address (only behind
            a reverse proxy that sets it) instead of the peer address.
        outbound: the guard every callback POST goes through (default: public addresses
            only, plus ``AGENT_RUNNER_OUTBOUND_ALLOW``).
        name: the connector's name (messages get it as ``source``).
        clock: wall clock for signatures; ``monotonic``: clock for rate limits (tests).
    """

    name = "http"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        auth_token: str | None = None,
        hmac_secret: str | None = None,
        callback_secret: str | None = None,
        max_body_bytes: int = 1_048_576,
        rate_limit_per_minute: float = 600.0,
        rate_limit_burst: float | None = None,
        reply_timeout: float = 30.0,
        signature_window: float = DEFAULT_WINDOW,
        callback_retries: int = 5,
        callback_timeout: float = 10.0,
        trust_forwarded: bool = False,
        outbound: OutboundGuard | None = None,
        name: str = "http",
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name=name)
        if max_body_bytes <= 0 or reply_timeout <= 0 or rate_limit_per_minute < 0:
            raise ConfigurationError(
                "max_body_bytes and reply_timeout must be > 0, rate_limit_per_minute >= 0"
            )
        self.host = host
        self._port = port
        self._max_body = max_body_bytes
        self._reply_timeout = reply_timeout
        self._auth = Authenticator(
            token=auth_token or None,
            hmac_secret=hmac_secret or None,
            window=signature_window,
            clock=clock,
        )
        self._limiter = (
            RateLimiter(per_minute=rate_limit_per_minute, burst=rate_limit_burst, clock=monotonic)
            if rate_limit_per_minute > 0
            else None
        )
        self._callbacks = WebhookSender(
            secret=callback_secret or hmac_secret or None,
            timeout=callback_timeout,
            max_retries=callback_retries,
            guard=outbound,
        )
        self._pending = Pending()
        self._trust_forwarded = trust_forwarded
        self._sink: Sink | None = None
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None

    @classmethod
    def from_env(cls, **overrides: Any) -> Self:
        """Build from :class:`HTTPSettings` (``HTTP_*``); keyword arguments win.

        Raises:
            ConfigurationError: an ``HTTP_*`` variable has an invalid value.
        """
        try:
            settings = HTTPSettings()
        except ValidationError as exc:
            from agent_runner.settings import settings_error

            raise ConfigurationError(settings_error(exc, prefix="HTTP_")) from None
        options: dict[str, Any] = {
            "host": settings.host,
            "port": settings.port,
            "auth_token": _secret(settings.auth_token),
            "hmac_secret": _secret(settings.hmac_secret),
            "callback_secret": _secret(settings.callback_secret),
            "max_body_bytes": settings.max_body_bytes,
            "rate_limit_per_minute": settings.rate_limit_per_minute,
            "reply_timeout": settings.reply_timeout,
            "trust_forwarded": settings.trust_forwarded,
        }
        options.update(overrides)
        return cls(**options)

    # -- properties ------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port once open (the configured one before)."""
        return self._bound_port if self._bound_port is not None else self._port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8080``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ready(self) -> bool:
        """True while the runner feeds this input (store open, not shutting down)."""
        return self._sink is not None and not self.stopping

    def describe(self) -> str:
        """One line for ``agent-runner check``."""
        auth = [
            n for n, on in (("bearer", self._auth.token), ("hmac", self._auth.hmac_secret)) if on
        ]
        limit = f"{self._limiter.rate * 60:g}/min" if self._limiter is not None else "off"
        return (
            f"HTTP on {self.url} (auth: {'+'.join(auth) or 'none'}, rate limit: {limit}, "
            f"max body: {self._max_body} bytes, reply timeout: {self._reply_timeout:g}s)"
        )

    # -- lifecycle -------------------------------------------------------------------
    async def open(self) -> None:
        """Start listening (healthz answers at once; the API once the runner starts)."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=self._max_body, middlewares=[error_middleware])
        app[MAX_BODY_KEY] = self._max_body
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ConnectorError(f"HTTP cannot listen on {self.host}:{self._port}: {exc}") from exc
        self._runner = runner
        addresses = runner.addresses
        self._bound_port = int(addresses[0][1]) if addresses else self._port
        await self._callbacks.open()
        logger.info("HTTP listening on %s", self.url)

    async def run(self, sink: Sink) -> None:
        self._sink = sink
        try:
            await self._stopping.wait()
        finally:
            self._sink = None

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        await self._callbacks.close()

    # -- output ----------------------------------------------------------------------
    async def send(self, request: Message, response: Reply) -> None:
        """Answer the waiting request, or POST to its callback URL."""
        url = callback_url(request)
        if url is not None:
            await self._callbacks.deliver(url, request, response)
            return
        if not self._pending.reply(request.key, response):
            logger.info("reply to %s kept: its request is no longer waiting", request.key)

    def needs_claim(self, request: Message) -> bool:
        """Only callbacks need the runner's durable reply claim.

        An answer on the live HTTP response cannot be sent twice: after a crash its
        connection is gone, and a client retrying the same id is answered from the
        idempotency cache or refused as a duplicate. A callback POST can repeat, so it is
        claimed like any other platform reply.
        """
        return callback_url(request) is not None

    def wants_stream(self, request: Message) -> bool:
        waiter = self._pending.get(request.key)
        return waiter is not None and waiter.stream

    async def send_chunk(self, request: Message, chunk: str) -> None:
        self._pending.chunk(request.key, chunk)

    async def complete(self, request: Message) -> None:
        """Called by the runner once every reply to ``request`` was sent (maybe none)."""
        self._pending.done(request.key)

    # -- request handling ------------------------------------------------------------
    async def _admit(self, request: web.Request) -> bytes:
        """Rate limit, size limit and authentication; the body when the request may pass."""
        if self._limiter is not None:
            wait = self._limiter.hit(self._client(request))
            if wait > 0:
                seconds = max(1, math.ceil(wait)) if math.isfinite(wait) else 60
                raise RequestError(
                    429,
                    f"rate limit exceeded; retry in {seconds}s",
                    headers={"Retry-After": str(seconds)},
                )
        length = request.content_length
        if length is not None and length > self._max_body:
            raise RequestError(
                413, f"request body is larger than the limit of {self._max_body} bytes"
            )
        body = await request.read()
        reason = self._auth.check(request.headers, body)
        if reason is not None:
            raise RequestError(401, reason, headers={"WWW-Authenticate": "Bearer"})
        return body

    def _client(self, request: web.Request) -> str:
        if self._trust_forwarded:
            forwarded = request.headers.get("X-Forwarded-For", "").split(",", 1)[0].strip()
            if forwarded:
                return forwarded
        return request.remote or "unknown"

    def _live_sink(self) -> Sink:
        sink = self._sink
        if sink is None or self.stopping:
            raise RequestError(503, "not ready: the runner is starting or shutting down")
        return sink

    async def _push(self, message: Message) -> Accepted:
        sink = self._live_sink()
        try:
            return await sink(message)
        except InvalidMessageError as exc:
            raise RequestError(422, exc.reason, details=exc.errors) from None
        except (ConnectorError, StoreError) as exc:
            logger.warning("could not accept %s: %s", message.key, exc)
            raise RequestError(503, "not accepting messages right now; retry later") from None

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        data = _decode(await self._admit(request))
        message = parse_message_body(data, source=self.name, new_id=_new_id, now=datetime.now(UTC))
        if callback_url(message) is not None:
            accepted = await self._push(message)
            if accepted.duplicate:
                raise _duplicate(message)
            body = {"id": message.id, "conversation_id": message.conversation_id}
            return web.json_response({**body, "status": "accepted"}, status=202)
        replies = await self._wait_replies(message, stream=False)
        return web.json_response(answer_json(message, replies))

    async def _wait_replies(self, message: Message, *, stream: bool) -> list[Reply]:
        cached = self._pending.answer(message.key)
        if cached is not None:
            return cached
        waiter = self._open_waiter(message, stream=stream)
        try:
            accepted = await self._push(message)
            if accepted.duplicate:
                raise _duplicate(message)
            replies = await self._pending.collect(waiter, within=self._reply_timeout)
        finally:
            self._pending.close(waiter)
        if replies is None:
            raise RequestError(504, f"no reply within {self._reply_timeout:g}s; it may come later")
        return replies

    def _open_waiter(self, message: Message, *, stream: bool) -> Waiter:
        try:
            return self._pending.open(message.key, stream=stream)
        except KeyError:
            raise RequestError(
                409, f"message id {message.id!r} is already being handled", code="duplicate_id"
            ) from None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        chat = parse_chat_request(_decode(await self._admit(request)))
        message_id = request.headers.get(IDEMPOTENCY_HEADER) or _new_id()
        conversation = request.headers.get(CONVERSATION_HEADER) or chat.user or message_id
        try:
            message = Message.parse(
                {
                    "id": message_id,
                    "conversation_id": conversation,
                    "source": self.name,
                    "author": {"id": chat.user or "openai-client"},
                    "text": chat.text,
                    "attachments": list(chat.attachments),
                    "created_at": datetime.now(UTC),
                }
            )
        except InvalidMessageError as exc:
            raise RequestError(422, exc.reason, details=exc.errors) from None
        created = int(time.time())
        completion_id = f"chatcmpl-{message.id}"
        if chat.stream:
            return await self._chat_stream(request, message, chat, completion_id, created)
        replies = await self._wait_replies(message, stream=False)
        text = join_replies([r.text for r in replies])
        return web.json_response(
            completion_json(
                completion_id=completion_id, created=created, model=chat.model, text=text
            )
        )

    async def _chat_stream(
        self,
        request: web.Request,
        message: Message,
        chat: ChatRequest,
        completion_id: str,
        created: int,
    ) -> web.StreamResponse:
        if self._pending.answer(message.key) is not None:
            raise _duplicate(message)
        waiter = self._open_waiter(message, stream=True)
        try:
            accepted = await self._push(message)
            if accepted.duplicate:
                raise _duplicate(message)
            response = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await response.prepare(request)

            def event(delta: dict[str, str], finish: str | None = None) -> bytes:
                return sse_event(
                    chunk_json(
                        completion_id=completion_id,
                        created=created,
                        model=chat.model,
                        delta=delta,
                        finish_reason=finish,
                    )
                )

            try:
                await response.write(event({"role": "assistant", "content": ""}))
                await self._stream_events(response, waiter, event)
                await response.write(DONE)
                await response.write_eof()
            except ConnectionResetError:  # the client went away; the reply is still kept
                logger.info("stream of %s: the client disconnected", message.key)
            return response
        finally:
            self._pending.close(waiter)

    async def _stream_events(
        self,
        response: web.StreamResponse,
        waiter: Waiter,
        event: Callable[[dict[str, str], str | None], bytes],
    ) -> None:
        streamed = False
        replies = 0
        while True:
            try:
                async with asyncio.timeout(self._reply_timeout):
                    kind, value = await waiter.get()
            except TimeoutError:
                error = error_body(504, f"no reply within {self._reply_timeout:g}s")
                await response.write(sse_event(error))
                return
            if kind == "chunk" and isinstance(value, str):
                streamed = True
                await response.write(event({"content": value}, None))
            elif kind == "reply" and isinstance(value, Reply):
                if not streamed:
                    text = value.text if replies == 0 else "\n\n" + value.text
                    await response.write(event({"content": text}, None))
                replies += 1
                streamed = False
                if not self._pending.completes_seen:
                    break
            elif kind == "done":
                break
        await response.write(event({}, "stop"))

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.StreamResponse:
        if not self.ready:
            return web.json_response(
                error_body(503, "not ready: the runner is starting or shutting down"), status=503
            )
        return web.json_response({"status": "ready"})


def _duplicate(message: Message) -> RequestError:
    return RequestError(
        409,
        f"message id {message.id!r} was already accepted; its reply is not available here",
        code="duplicate_id",
    )


__all__ = ["HTTPConnector", "HTTPSettings"]
