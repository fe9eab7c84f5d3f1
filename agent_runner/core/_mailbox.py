"""Envelopes and per-agent mailboxes of the single-threaded runtime.

An :class:`Envelope` is at once the message in transit, the handler's
:class:`MessageContext` and (for an RPC) the :class:`HandlerFrame` of the handler's turn,
so a delivery allocates one object. A :class:`Mailbox` exists only while its agent has work:
one drain task empties it and then removes it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from agent_runner.core._agent_id import AgentId
from agent_runner.core._cancellation_token import CancellationToken
from agent_runner.core._message_context import MessageContext
from agent_runner.core._message_handler_context import HandlerFrame
from agent_runner.core._topic import TopicId


class Envelope(MessageContext):
    """A message in transit with its context (one per send, one per publish)."""

    __slots__ = ("active", "agent_id", "future", "message", "parent", "trace")

    def __init__(
        self,
        message: Any,
        sender: AgentId | None,
        topic_id: TopicId | None,
        is_rpc: bool,
        cancellation_token: CancellationToken,
        message_id: str | None,
        agent_id: AgentId,
        parent: HandlerFrame | None,
    ) -> None:
        self.sender = sender
        self.topic_id = topic_id
        self.is_rpc = is_rpc
        self.cancellation_token = cancellation_token
        self._message_id = message_id
        self.message = message
        self.agent_id = agent_id
        self.parent = parent
        self.active = False
        self.future: asyncio.Future[Any] | None = None
        self.trace: Any = None


class _Deactivate:
    """Mailbox item asking the drain task to deactivate its agent."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DEACTIVATE"


DEACTIVATE = _Deactivate()

NO_AGENT = AgentId("none", "")
"""Placeholder ``agent_id`` of publish envelopes (their frames are separate objects)."""

MailboxItem = Envelope | _Deactivate


class Mailbox:
    """The queued work of one busy agent and the task draining it."""

    __slots__ = ("agent_id", "items", "task")

    def __init__(self, agent_id: AgentId, first: MailboxItem) -> None:
        self.agent_id = agent_id
        self.items: deque[MailboxItem] = deque((first,))
        self.task: asyncio.Task[None] | None = None


__all__ = ["DEACTIVATE", "NO_AGENT", "Envelope", "Mailbox", "MailboxItem"]
