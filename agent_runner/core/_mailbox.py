"""Envelopes and per-agent mailboxes of the single-threaded runtime.

An :class:`Envelope` is at once the message in transit and the handler's
:class:`MessageContext` (one object per send, shared by every recipient of a publish).
A :class:`Mailbox` exists only while its agent has work: one drain task empties it and then
removes it.
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
from agent_runner.errors import RuntimeStoppedError


class Envelope(MessageContext):
    """A message in transit with its context (one per send, one per publish)."""

    __slots__ = ("future", "message", "parent", "trace")

    def __init__(
        self,
        message: Any,
        sender: AgentId | None,
        topic_id: TopicId | None,
        is_rpc: bool,
        cancellation_token: CancellationToken,
        message_id: str | None,
        parent: HandlerFrame | None,
    ) -> None:
        self.sender = sender
        self.topic_id = topic_id
        self.is_rpc = is_rpc
        self.cancellation_token = cancellation_token
        self._message_id = message_id
        self.message = message
        self.parent = parent
        """The frame of the sending handler when it waits for the reply (RPCs), else None."""
        self.future: asyncio.Future[Any] | None = None
        self.trace: Any = None


DEACTIVATE = Envelope(None, None, None, False, CancellationToken(), "deactivate", None)
"""Mailbox item asking the drain task to deactivate its agent (compared by identity)."""


class Mailbox:
    """The queued work of one busy agent and the task draining it."""

    __slots__ = ("agent_id", "items", "task")

    def __init__(self, agent_id: AgentId, first: Envelope | None) -> None:
        self.agent_id = agent_id
        self.items: deque[Envelope] = deque(() if first is None else (first,))
        self.task: asyncio.Task[None] | None = None
        """None while the turn runs in a claimant's task (:meth:`Mailroom.claim`)."""


def stopped_error() -> RuntimeStoppedError:
    """The error of a message whose caller waits when the runtime stops."""
    return RuntimeStoppedError("The runtime stopped before the message was handled")


__all__ = ["DEACTIVATE", "Envelope", "Mailbox", "stopped_error"]
