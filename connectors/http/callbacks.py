"""Replies POSTed to a URL: signed, retried with capped backoff, under idempotency keys.

The HTTP connector sends each reply of a request that named a ``callback_url`` with a
:class:`WebhookSender`; :class:`connectors.webhook.WebhookOutput` sends every reply to one
configured URL with one. The wire format (body, headers, retries, what a receiver should do
with a repeated ``Idempotency-Key``) is described in :mod:`connectors.webhook`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import aiohttp

from agent_runner.backoff import RetryPolicy, is_retryable_status, parse_retry_after
from agent_runner.connector import DeliveryKey
from agent_runner.errors import ConfigurationError, DeliveryError, OutboundRefusedError
from agent_runner.message import Message, Reply
from agent_runner.outbound import OutboundGuard
from agent_runner.tracing.http import with_traceparent
from connectors.http.auth import signature_headers
from connectors.http.errors import RequestError
from connectors.http.messages import message_json, reply_json

logger = logging.getLogger("connectors.webhook")

IDEMPOTENCY_HEADER = "Idempotency-Key"
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, TimeoutError)
"""Network failures worth retrying (connection refused/reset, timeouts, bad responses)."""


class ReplyIndex:
    """Numbers the replies of each message, so a retry of a reply keeps its index.

    The runner sends the replies of a message in order and retries a failed send with the
    same reply; a reply equal to one whose last delivery failed is that retry, anything else
    is the message's next reply. Remembers the last ``size`` messages.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._seen: OrderedDict[str, list[tuple[str, bool]]] = OrderedDict()

    def index(self, key: str, reply: Reply) -> int:
        fingerprint = hashlib.sha256(reply.model_dump_json().encode()).hexdigest()
        sent = self._seen.setdefault(key, [])
        self._seen.move_to_end(key)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)
        if sent and sent[-1] == (fingerprint, False):
            return len(sent) - 1
        sent.append((fingerprint, False))
        return len(sent) - 1

    def delivered(self, key: str, index: int) -> None:
        sent = self._seen.get(key)
        if sent is not None and index < len(sent):
            sent[index] = (sent[index][0], True)


def payload(request: Message, reply: Reply, index: int) -> dict[str, Any]:
    """The JSON body posted for reply ``index`` of ``request``."""
    return {
        "message": message_json(request),
        "reply": reply_json(reply),
        "index": index,
        "idempotency_key": f"{request.key}#{index}",
    }


class WebhookSender:
    """The delivery machinery: signing, idempotency keys, timeouts and capped retries.

    :class:`~connectors.webhook.WebhookOutput` sends to one URL with it; the HTTP connector
    sends each callback to the URL its request named. Arguments are those of
    :class:`~connectors.webhook.WebhookOutput`.
    """

    def __init__(
        self,
        *,
        secret: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 60.0,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        guard: OutboundGuard | None = None,
    ) -> None:
        if timeout <= 0 or max_retries < 0:
            raise ConfigurationError("timeout must be > 0 and max_retries >= 0")
        self._secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retry = RetryPolicy(
            retries=max_retries,
            base=backoff_base,
            cap=backoff_cap,
            jitter="full",
            max_retry_after=max_retry_after,
        )
        self._headers = dict(headers or {})
        self._session = session
        self._own_session = session is None
        self._guard = guard if guard is not None else OutboundGuard.from_env()
        self._index = ReplyIndex()

    async def open(self) -> None:
        if self._session is None:
            self._session = self._guard.session()
            self._own_session = True

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and self._own_session:
            await session.close()

    async def check(self, url: str) -> None:
        """Refuse ``url`` now, at accept time, when its host resolves to a refused address
        (each delivery attempt is checked again, as the DNS answer may change).

        Raises:
            OutboundRefusedError: with the reason (a loopback address, no such name ...).
        """
        parsed = self._guard.check_url(url)
        host = parsed.raw_host
        assert host is not None  # check_url refuses a URL without one
        try:
            async with asyncio.timeout(self._timeout.total):
                await self._guard.check_host(host, parsed.port or 0)
        except TimeoutError:
            raise OutboundRefusedError(f"{host} did not resolve in time") from None

    async def deliver(
        self, url: str, request: Message, response: Reply, *, key: DeliveryKey | None = None
    ) -> None:
        """POST reply ``response`` of ``request`` to ``url``, retrying as configured.

        With the runner's ``key`` the Idempotency-Key is the reply ledger's (the same in
        every attempt, across restarts); without one, replies are numbered in memory.
        """
        if key is not None:
            index = key.index
        else:
            index = self._index.index(request.key, response)
        body = json.dumps(payload(request, response, index), separators=(",", ":")).encode()
        await self.post(url, body, idempotency_key=f"{request.key}#{index}")
        if key is None:
            self._index.delivered(request.key, index)

    async def post(self, url: str, body: bytes, *, idempotency_key: str) -> None:
        """POST ``body`` with retries; return on a 2xx, raise DeliveryError when giving up."""
        if self._session is None:
            await self.open()
        session = self._session
        assert session is not None
        attempt = 0
        while True:
            headers = {
                **self._headers,
                "Content-Type": "application/json",
                IDEMPOTENCY_HEADER: idempotency_key,
            }
            if self._secret:
                headers.update(signature_headers(self._secret, body))
            with_traceparent(headers)  # the receiver can continue the message's trace
            retry_after: float | None = None
            try:
                async with session.post(
                    url, data=body, headers=headers, timeout=self._timeout
                ) as resp:
                    if resp.status < 300:
                        return
                    problem = f"HTTP {resp.status}"
                    if not is_retryable_status(resp.status):
                        raise DeliveryError(
                            f"webhook {idempotency_key} refused by the receiver: {problem}"
                        )
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            except TRANSIENT_ERRORS as exc:
                problem = f"{type(exc).__name__}: {exc}"
            except OutboundRefusedError as exc:
                raise DeliveryError(f"webhook {idempotency_key} not sent: {exc.reason}") from None
            attempt += 1
            wait = self._retry.wait(attempt, retry_after=retry_after)
            if wait is None:
                why = (
                    f"the receiver asked to wait {retry_after:.0f}s, over the "
                    f"{self._retry.max_retry_after:g}s cap"
                    if attempt <= self._retry.retries and retry_after is not None
                    else f"not delivered after {attempt} attempt(s)"
                )
                raise DeliveryError(f"webhook {idempotency_key} {why}: {problem}")
            logger.warning(
                "webhook %s attempt %d failed (%s); retrying in %.2fs",
                idempotency_key,
                attempt,
                problem,
                wait,
            )
            await asyncio.sleep(wait)


async def check_callback(sender: WebhookSender, url: str) -> None:
    """A ``callback_url`` at accept time: a 422 saying why the guard refuses it."""
    try:
        await sender.check(url)
    except OutboundRefusedError as exc:
        raise RequestError(
            422,
            f"callback_url refused: {exc.reason} (allow it with AGENT_RUNNER_OUTBOUND_ALLOW)",
            code="callback_url_refused",
        ) from None


__all__ = [
    "IDEMPOTENCY_HEADER",
    "TRANSIENT_ERRORS",
    "ReplyIndex",
    "WebhookSender",
    "check_callback",
    "payload",
]
