"""Webhook output: POST each reply as JSON to a URL, signed, with retries and idempotency keys.

Each reply is one request::

    POST <url>
    Content-Type: application/json
    Idempotency-Key: http:42#0            (message key + "#" + reply index)
    X-Timestamp: 1767225600               (with a secret)
    X-Signature: sha256=<hex>             (HMAC-SHA256 over f"{timestamp}." + body)

    {"message": {...the request...}, "reply": {"text": "..."}, "index": 0,
     "idempotency_key": "http:42#0"}

A receiver verifies the signature with :func:`connectors.webhook.verify` (same scheme as the
HTTP connector's signed requests) and drops an ``Idempotency-Key`` it has seen: retries and
restarts can deliver a reply twice, never a different reply under the same key. The output is
``exactly_once`` (:mod:`agent_runner.connector`): the key comes from the runner's reply ledger,
so after a crash the reply is sent again under the same key and the receiver keeps one.

Connection errors, timeouts, 408/409/425/429 and 5xx are retried with capped exponential backoff
and full jitter (:mod:`agent_runner.backoff`; a ``Retry-After`` up to ``max_retry_after`` is
waited, a longer one gives up); other 4xx give up at once. Giving up raises
:class:`~agent_runner.errors.DeliveryError`.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
from yarl import URL

from agent_runner.connector import BaseConnector, DeliveryContract, DeliveryKey
from agent_runner.errors import ConfigurationError
from agent_runner.message import Message, Reply
from agent_runner.outbound import OutboundGuard
from connectors.http.auth import DEFAULT_WINDOW, check_signature
from connectors.http.callbacks import (
    IDEMPOTENCY_HEADER,
    TRANSIENT_ERRORS,
    ReplyIndex,
    WebhookSender,
    payload,
)
from connectors.http.errors import RequestError
from connectors.http.messages import check_callback_url


def verify(
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    window: float = DEFAULT_WINDOW,
) -> str | None:
    """For receivers: None when ``body`` was signed with ``secret``, else the reason."""
    return check_signature(
        secret,
        timestamp=headers.get("X-Timestamp"),
        signature=headers.get("X-Signature"),
        body=body,
        now=now,
        window=window,
    )


class WebhookOutput(BaseConnector):
    """Deliver replies by POSTing them to ``url``.

    Args:
        url: where to POST (http or https).
        secret: HMAC-SHA256 key for the ``X-Signature`` header (no signature when None).
        timeout: seconds for one attempt (connect + send + response).
        max_retries: retries after the first attempt before giving up.
        name: the output's name (for routes).
        backoff_base: first retry's maximum wait, seconds (doubles each retry).
        backoff_cap: longest wait between attempts, seconds.
        max_retry_after: longest ``Retry-After`` honoured; a longer one gives up at once
            (waiting less than the receiver asked would only be refused again).
        headers: extra headers sent with every request.
        session: an aiohttp session to use (default: one of its own, opened in ``open``,
            whose connections go through the outbound guard; a session you pass is yours
            to guard).
        guard: the outbound guard (default: ``AGENT_RUNNER_OUTBOUND_ALLOW`` from the
            environment). The host of ``url`` is allowed: you configured it, so a webhook
            to ``http://127.0.0.1:9000/`` works; a redirect elsewhere is still checked.

    Example:
        >>> hook = WebhookOutput("https://example.com/hook", secret="s3cret")
        >>> # AgentRuntime([http], [http, hook], agent, routes={"http": ["webhook"]})
    """

    name = "webhook"
    delivery: DeliveryContract = "exactly_once"
    """The receiver drops a repeated ``Idempotency-Key``: a resend after a crash is safe."""

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 5,
        name: str = "webhook",
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 60.0,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        guard: OutboundGuard | None = None,
    ) -> None:
        super().__init__(name=name)
        try:
            self.url = check_callback_url(url)
        except RequestError as exc:
            raise ConfigurationError(f"WebhookOutput url: {exc.message}") from None
        host = URL(self.url).raw_host or ""
        self.sender = WebhookSender(
            guard=(guard if guard is not None else OutboundGuard.from_env()).allowing(host),
            secret=secret,
            timeout=timeout,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            max_retry_after=max_retry_after,
            headers=headers,
            session=session,
        )

    async def open(self) -> None:
        await self.sender.open()

    async def close(self) -> None:
        await self.sender.close()

    async def send(
        self, request: Message, response: Reply, *, key: DeliveryKey | None = None
    ) -> None:
        """POST ``response`` to the URL; raise DeliveryError when it cannot be delivered."""
        await self.sender.deliver(self.url, request, response, key=key)


__all__ = [
    "IDEMPOTENCY_HEADER",
    "TRANSIENT_ERRORS",
    "ReplyIndex",
    "WebhookOutput",
    "WebhookSender",
    "payload",
    "verify",
]
