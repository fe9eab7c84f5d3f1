"""From a validated request to its replies: push the message to the runner and wait.

Both APIs (``/v1/messages`` and ``/v1/chat/completions``) hand their :class:`Message` to an
:class:`Intake`, which the connector owns: it pushes the message through the runner's sink,
keeps one waiter per in-flight message id, answers retries from the kept answers, refuses a
reused id with a different body (Stripe's rule) and turns an agent failure into a 5xx.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from agent_runner.connector import Accepted, Sink
from agent_runner.errors import ConnectorError, InvalidMessageError, StoreError
from agent_runner.message import Message, Reply
from connectors.http.errors import RequestError
from connectors.http.messages import answered, body_fingerprint, duplicate_error
from connectors.http.pending import Pending, Waiter

logger = logging.getLogger("connectors.http")


class Intake:
    """The connector's way in to the runner.

    Args:
        pending: the waiters and kept answers (fed by the connector's output side).
        sink: returns the runner's sink, or None while it is not running.
        reply_timeout: seconds a request waits for its replies before a 504.
    """

    __slots__ = ("_pending", "_sink", "reply_timeout")

    def __init__(
        self, *, pending: Pending, sink: Callable[[], Sink | None], reply_timeout: float
    ) -> None:
        self._pending = pending
        self._sink = sink
        self.reply_timeout = reply_timeout

    async def push(self, message: Message) -> Accepted:
        """Hand ``message`` to the runner (503 when it is not running or cannot take it)."""
        sink = self._sink()
        if sink is None:
            raise RequestError(503, "not ready: the runner is starting or shutting down")
        try:
            return await sink(message)
        except InvalidMessageError as exc:
            raise RequestError(422, exc.reason, details=exc.errors) from None
        except (ConnectorError, StoreError) as exc:
            logger.warning("could not accept %s: %s", message.key, exc)
            raise RequestError(503, "not accepting messages right now; retry later") from None

    def check_reuse(self, message: Message, data: Any) -> None:
        """Stripe's rule: an id sent again with a different body is an error, not a retry."""
        if not self._pending.same_body(message.key, body_fingerprint(data)):
            raise RequestError(
                422,
                f"id {message.id!r} was used before with a different body; use a new id",
                code="idempotency_key_reused",
            )

    async def replies(self, message: Message) -> list[Reply]:
        """Push ``message`` and wait for its replies (or answer a retry from the kept ones)."""
        cached = self._pending.answer(message.key)
        if cached is not None:
            return answered(cached)
        waiter = self.open_waiter(message, stream=False)
        try:
            accepted = await self.push(message)
            if accepted.duplicate:
                raise duplicate_error(message)
            replies = await self._pending.collect(waiter, within=self.reply_timeout)
        finally:
            self._pending.close(waiter)
        if replies is None:
            raise RequestError(504, f"no reply within {self.reply_timeout:g}s; it may come later")
        return answered(replies)

    def open_waiter(self, message: Message, *, stream: bool) -> Waiter:
        """Register the request waiting for ``message`` (409 when one already waits)."""
        try:
            return self._pending.open(message.key, stream=stream)
        except KeyError:
            raise RequestError(
                409, f"message id {message.id!r} is already being handled", code="duplicate_id"
            ) from None


__all__ = ["Intake"]
