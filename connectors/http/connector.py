"""HTTP connector (aiohttp): a JSON API and an OpenAI-compatible endpoint for your agent.

Routes:

- ``POST /v1/messages``: a JSON message in (see :mod:`connectors.http.messages` for the
  fields), the replies out: ``{"id", "conversation_id", "replies": [{"text": ...}]}``. With
  ``callback_url`` the answer is ``202`` at once and each reply is POSTed there (signed,
  retried, with an ``Idempotency-Key``). A client ``id`` is an idempotency key: a retry gets
  the same replies (or ``409`` while the first is still running or when they are gone); the
  same id with a different body is a ``422``. An agent failure is a ``500`` carrying the
  runner's error text.
- ``POST /v1/chat/completions``: OpenAI's chat completions, non-streaming or SSE
  (``"stream": true``), so any OpenAI client or chat UI can talk to the agent
  (:mod:`connectors.http.openai`); ``GET /v1/models`` lists the agent.
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

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Self

from aiohttp import web
from multidict import CIMultiDict

from agent_runner.connector import BaseConnector, DeliveryContract, DeliveryKey, Sink
from agent_runner.errors import (
    ConfigurationError,
    ConnectorError,
)
from agent_runner.http_server import ServerLimits, bind_problem, serve
from agent_runner.message import Message, Reply
from agent_runner.outbound import OutboundGuard
from agent_runner.store import Store, counters_for
from connectors.http import files
from connectors.http.admission import Admission
from connectors.http.auth import DEFAULT_WINDOW, Authenticator
from connectors.http.callbacks import WebhookSender, check_callback
from connectors.http.chat import ChatRoutes
from connectors.http.errors import (
    MAX_BODY_KEY,
    RequestError,
    error_body,
    error_json,
    error_middleware,
)
from connectors.http.front import Answer, Front
from connectors.http.intake import Intake
from connectors.http.messages import (
    answer_json,
    callback_url,
    decode_body,
    duplicate_error,
    new_message_id,
    parse_message_body,
)
from connectors.http.openai import DEFAULT_MODEL
from connectors.http.pending import Pending
from connectors.http.ratelimit import RateLimiter, SharedWindow
from connectors.http.schema import openapi_document
from connectors.http.settings import HTTPSettings

logger = logging.getLogger("connectors.http")


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
        limits: idle/header and body timeouts, connection cap (``HTTP_IDLE_TIMEOUT``,
            ``HTTP_BODY_TIMEOUT``, ``HTTP_MAX_CONNECTIONS``; :mod:`agent_runner.http_server`).
        model_name: the model id ``GET /v1/models`` lists.
        name: the connector's name (messages get it as ``source``).
        clock: wall clock for signatures; ``monotonic``: clock for rate limits (tests).
    """

    name = "http"
    delivery: DeliveryContract = "exactly_once"
    """Callbacks carry the reply ledger's Idempotency-Key; live answers keep no ledger."""

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
        limits: ServerLimits | None = None,
        model_name: str = DEFAULT_MODEL,
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
        self._clock = clock
        self._limits = limits or ServerLimits()
        self._reply_timeout = reply_timeout
        self._admission = Admission(
            auth=Authenticator(
                token=auth_token or None,
                hmac_secret=hmac_secret or None,
                window=signature_window,
                clock=clock,
            ),
            limiter=(
                RateLimiter(
                    per_minute=rate_limit_per_minute, burst=rate_limit_burst, clock=monotonic
                )
                if rate_limit_per_minute > 0
                else None
            ),
            max_body=max_body_bytes,
            body_timeout=self._limits.body_timeout,
            trust_forwarded=trust_forwarded,
        )
        self._callbacks = WebhookSender(
            secret=callback_secret or hmac_secret or None,
            timeout=callback_timeout,
            max_retries=callback_retries,
            guard=outbound,
        )
        self._pending = Pending()
        self._intake = Intake(
            pending=self._pending, sink=self._live_sink, reply_timeout=reply_timeout
        )
        self._chat = ChatRoutes(
            intake=self._intake,
            admission=self._admission,
            pending=self._pending,
            source=name,
            model=model_name,
        )
        self._sink: Sink | None = None
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None

    @classmethod
    def from_env(cls, **overrides: Any) -> Self:
        """Build from :class:`HTTPSettings` (``HTTP_*``); keyword arguments win.

        Raises:
            ConfigurationError: an ``HTTP_*`` variable has an invalid value.
        """
        options = HTTPSettings.load().connector_options()
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
        return (
            f"HTTP on {self.url} ({self._admission.describe()}, "
            f"reply timeout: {self._reply_timeout:g}s, {self._limits.describe()})"
        )

    async def preflight(self) -> list[str]:
        """What would stop :meth:`open`: a host that is not an address here, a port in use."""
        problem = await bind_problem(self.host, self._port)
        return [f"HTTP_HOST={self.host}, HTTP_PORT={self._port}: {problem}"] if problem else []

    def bind_store(self, store: Store) -> None:
        """With a store shared across hosts (Redis), the rate limit counts every replica."""
        counters = counters_for(store)
        limiter = self._admission.limiter
        if limiter is not None and getattr(counters, "across_hosts", False):
            per_minute = limiter.rate * 60
            self._admission.shared = SharedWindow(
                counters, per_minute=per_minute, name=self.name, clock=self._clock
            )

    # -- lifecycle -------------------------------------------------------------------
    async def open(self) -> None:
        """Start listening (healthz answers at once; the API once the runner starts)."""
        if self._runner is not None:
            return
        max_body = self._admission.max_body
        app = web.Application(client_max_size=max_body, middlewares=[error_middleware])
        app[MAX_BODY_KEY] = max_body
        app.router.add_post("/v1/messages", self._messages)
        self._chat.add_to(app)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/openapi.json", self._openapi)
        app.router.add_get("/readyz", self._readyz)
        front = Front(
            path="/v1/messages",
            handler=self._front_messages,
            limits=self._limits,
            max_body=max_body,
        )
        try:
            runner, port = await serve(
                app, host=self.host, port=self._port, limits=self._limits, front=front
            )
        except OSError as exc:
            raise ConnectorError(f"HTTP cannot listen on {self.host}:{self._port}: {exc}") from exc
        self._runner, self._bound_port = runner, port
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
    async def send(
        self, request: Message, response: Reply, *, key: DeliveryKey | None = None
    ) -> None:
        """Answer the waiting request, or POST to its callback URL (under ``key``)."""
        response = await files.loaded(response)
        url = callback_url(request)
        if url is not None:
            await self._callbacks.deliver(url, request, response, key=key)
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
    def _live_sink(self) -> Sink | None:
        return None if self.stopping else self._sink

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        status, answer = await self._answer(await self._admission.admit(request))
        return web.json_response(answer, status=status)

    async def _front_messages(
        self, headers: CIMultiDict[str], remote: str | None, body: bytes
    ) -> Answer:
        """``POST /v1/messages`` as the front serves it (see :mod:`connectors.http.front`)."""
        try:
            await self._admission.admit_read(headers, remote, body)
            status, answer = await self._answer(body)
        except RequestError as exc:
            return exc.status, error_json(exc), exc.headers
        return status, answer, {}

    async def _answer(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """The status and JSON answer to an admitted ``POST /v1/messages`` body."""
        data = decode_body(body)
        message = parse_message_body(
            data, source=self.name, new_id=new_message_id, now=datetime.now(UTC)
        )
        if isinstance(data, dict) and "id" in data:
            self._intake.check_reuse(message, data)
        url = callback_url(message)
        if url is not None:
            await check_callback(self._callbacks, url)
            accepted = await self._intake.push(message)
            if accepted.duplicate:
                raise duplicate_error(message)
            ids = {"id": message.id, "conversation_id": message.conversation_id}
            return 202, {**ids, "status": "accepted"}
        replies = await self._intake.replies(message)
        return 200, answer_json(message, replies)

    async def _openapi(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(openapi_document())

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.StreamResponse:
        if not self.ready:
            return web.json_response(
                error_body(503, "not ready: the runner is starting or shutting down"), status=503
            )
        return web.json_response({"status": "ready"})


__all__ = ["HTTPConnector", "HTTPSettings"]
