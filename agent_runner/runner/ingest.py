"""The runner's sink: what every input's message goes through before its conversation's queue.

Each message is validated, checked by the loop guards, held back while ``max_pending``
messages wait (back-pressure), queued in its conversation's mailbox and journaled. Awaited
as a :class:`~agent_runner.connector.Sink` it returns once the message is journaled; through
``hand_over`` (a :class:`~agent_runner.handover.PipelinedSink`) it returns once the message
is queued, with a future of the journal's answer, so an input whose acknowledgement nobody
outside sees does not wait for a commit per message (see
:class:`~agent_runner.handover.Handover`). Either way a message's turn starts only after its
journal write committed.

With the operator endpoint on, the sink tells its :class:`~agent_runner.runner.operations.
Operations` what became of each message (received, refused, duplicate) on both ways in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from functools import partial
from typing import Any

from agent_runner.connector import Accepted
from agent_runner.errors import ConnectorError, InvalidMessageError, StoreError
from agent_runner.message import Message
from agent_runner.runner.config import source_of
from agent_runner.runner.guards import LoopGuard, RefusedMessageError
from agent_runner.runner.mailboxes import ConversationMailboxes
from agent_runner.runner.operations import (
    MAX_LABEL_LENGTH,
    Operations,
    refusal_code,
    source_label,
)
from agent_runner.store import Store
from agent_runner.tracing import pipeline

_log = logging.getLogger("agent_runner.runtime")


class Ingest:
    """The sink of one runner (``AgentRuntime.sink`` and what its inputs are given).

    ``mailboxes`` is set while the runner runs; ``accepting`` while inputs may push.
    ``operations`` (the operator endpoint's metrics, or None) is told what became of each
    message; ``received`` (with it) is its ``messages_received`` counter, counted into
    straight by source label (one dict update a message, as ``ReplySender.counts``).
    """

    def __init__(
        self,
        *,
        store: Store,
        guard: LoopGuard,
        max_pending: int,
        operations: Operations | None = None,
        received: dict[tuple[str, ...], float] | None = None,
    ) -> None:
        self._store = store
        self._guard = guard
        self._max_pending = max_pending
        self.operations = operations
        self._received = received
        self.mailboxes: ConversationMailboxes | None = None
        self.accepting = False

    async def __call__(self, data: Message | Mapping[str, Any], /) -> Accepted:
        ops = self.operations
        if ops is None:
            message = _parse(data)
            mailboxes = await self._admissible(message)
            with pipeline.receive(message):  # the message's trace (when OTEL_* turns it on)
                fresh = await mailboxes.admit(message, self._journal(message))
            return Accepted(message.key, duplicate=not fresh)
        message = self._counted(data, ops)
        try:
            mailboxes = await self._admissible(message)
            with pipeline.receive(message):
                fresh = await mailboxes.admit(message, self._journal(message))
        except _REFUSALS as exc:
            ops.message_refused(source_label(message), refusal_code(exc))
            raise
        if not fresh:
            ops.message_duplicate(source_label(message))
        return Accepted(message.key, duplicate=not fresh)

    async def hand_over(self, data: Message | Mapping[str, Any], /) -> asyncio.Future[Accepted]:
        """Queue ``data`` without waiting for its journal write (see the module doc)."""
        ops = self.operations
        message = _parse(data) if ops is None else self._counted(data, ops)
        source = "" if ops is None else source_label(message)
        try:
            mailboxes = await self._admissible(message)
        except _REFUSALS as exc:
            if ops is not None:
                ops.message_refused(source, refusal_code(exc))
            raise
        with pipeline.receive(message):
            write = mailboxes.hand_over(message, self._journal(message))
        accepted: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        write.add_done_callback(partial(_answer, accepted, message.key, ops, source))
        return accepted

    def _journal(self, message: Message) -> Awaitable[bool]:
        return pipeline.journal_write(
            self._store.journal_accept(
                message.key, message.conversation_key, message.model_dump_json()
            )
        )

    def _counted(self, data: Message | Mapping[str, Any], ops: Operations) -> Message:
        """``data`` validated, counted as received (and as refused when invalid)."""
        try:
            message = _parse(data)
        except InvalidMessageError as exc:
            source = source_label(data)
            ops.message_received(source)
            ops.message_refused(source, refusal_code(exc))
            raise
        source = message.source
        if len(source) > MAX_LABEL_LENGTH:
            source = "unknown"
        received = self._received
        if received is None:
            ops.message_received(source)
        else:
            key = (source,)
            received[key] = received.get(key, 0.0) + 1.0
        return message

    async def _admissible(self, message: Message) -> ConversationMailboxes:
        """The mailboxes to queue ``message`` in, once the guards and back-pressure let it."""
        reason = self._guard.check(message)
        if reason is not None:
            _log.info("refused %s: %s", message.key, reason)
            raise RefusedMessageError(reason)
        mailboxes = self.mailboxes
        if mailboxes is not None and mailboxes.pending >= self._max_pending:
            await mailboxes.wait_for_room()
        if mailboxes is None or not self.accepting or mailboxes is not self.mailboxes:
            raise ConnectorError(f"the runner is not accepting input; {message.key} refused")
        return mailboxes


def _parse(data: Message | Mapping[str, Any]) -> Message:
    try:
        return Message.parse(data)
    except InvalidMessageError as exc:
        _log.warning("refused input from %s: %s", source_of(data), exc.reason)
        raise


_REFUSALS = (InvalidMessageError, ConnectorError, StoreError)
"""What the sink raises for a message it did not take (counted as refused)."""


def _answer(
    accepted: asyncio.Future[Accepted],
    key: str,
    ops: Operations | None,
    source: str,
    write: asyncio.Future[bool],
) -> None:
    if write.cancelled():
        accepted.cancel()
    elif (exc := write.exception()) is not None:
        if ops is not None and isinstance(exc, _REFUSALS):
            ops.message_refused(source, refusal_code(exc))
        accepted.set_exception(exc)
    else:
        duplicate = not write.result()
        if duplicate and ops is not None:
            ops.message_duplicate(source)
        accepted.set_result(Accepted(key, duplicate=duplicate))


__all__ = ["Ingest"]
