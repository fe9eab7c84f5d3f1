"""MessageContext: what a handler knows about the message it handles."""

from __future__ import annotations

import uuid

from agent_runner.core._agent_id import AgentId
from agent_runner.core._cancellation_token import CancellationToken
from agent_runner.core._topic import TopicId


class MessageContext:
    """The context of one delivered message.

    Attributes:
        sender: The sending agent, or None for a sender outside the runtime.
        topic_id: The topic for a published message; None for a direct message.
        is_rpc: True for :meth:`send_message` (a reply is awaited), False for a publish.
        cancellation_token: Cancelled when the caller cancels; check it in long handlers.
        message_id: A unique id of the message (a UUID unless the sender gave one; made on
            first access, so unread ids cost nothing).

    Example::

        @rpc
        async def on_ask(self, message: Ask, ctx: MessageContext) -> Answer:
            if ctx.cancellation_token.is_cancelled():
                raise asyncio.CancelledError
            return Answer(f"from {ctx.sender}")
    """

    __slots__ = ("_message_id", "cancellation_token", "is_rpc", "sender", "topic_id")

    def __init__(
        self,
        sender: AgentId | None,
        topic_id: TopicId | None,
        is_rpc: bool,
        cancellation_token: CancellationToken,
        message_id: str | None = None,
    ) -> None:
        self.sender = sender
        self.topic_id = topic_id
        self.is_rpc = is_rpc
        self.cancellation_token = cancellation_token
        self._message_id = message_id

    @property
    def message_id(self) -> str:
        """The message's unique id."""
        message_id = self._message_id
        if message_id is None:
            message_id = self._message_id = str(uuid.uuid4())
        return message_id

    @message_id.setter
    def message_id(self, value: str) -> None:
        self._message_id = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MessageContext):
            return NotImplemented
        return (
            self.sender == other.sender
            and self.topic_id == other.topic_id
            and self.is_rpc == other.is_rpc
            and self.cancellation_token is other.cancellation_token
            and self.message_id == other.message_id
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"MessageContext(sender={self.sender!r}, topic_id={self.topic_id!r}, "
            f"is_rpc={self.is_rpc!r}, cancellation_token={self.cancellation_token!r}, "
            f"message_id={self.message_id!r})"
        )


__all__ = ["MessageContext"]
