"""MessageGate: the access policy, intervention handlers and the strict serialization check."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from agent_runner.core._access_policy import AccessPolicy
from agent_runner.core._agent_id import AgentId
from agent_runner.core._intervention import DropMessage, InterventionHandler
from agent_runner.core._message_context import MessageContext
from agent_runner.core._serialization import SerializationRegistry, type_name
from agent_runner.core._topic import TopicId
from agent_runner.errors import MessageDroppedException, SerializationError

logger = logging.getLogger("agent_runner.core")


def _warn_if_none(value: Any, handler_name: str) -> None:
    if value is None:
        warnings.warn(
            f"Intervention handler {handler_name} returned None. Return the message or "
            "DropMessage explicitly.",
            RuntimeWarning,
            stacklevel=3,
        )


def _dropped(value: Any) -> bool:
    return value is DropMessage or isinstance(value, DropMessage)


class MessageGate:
    """:meta private: What every message passes when handlers or strict mode are configured.

    A runtime asks it only when it is :attr:`active` (``interventions`` set or ``strict``
    on) or has an :attr:`access` policy, so none of them costs anything otherwise.
    """

    __slots__ = ("_serializable", "access", "active", "interventions", "serializers", "strict")

    def __init__(
        self,
        interventions: list[InterventionHandler] | None,
        serializers: SerializationRegistry,
        *,
        strict: bool,
        access: AccessPolicy | None = None,
    ) -> None:
        self.interventions = list(interventions) if interventions else None
        self.serializers = serializers
        self.strict = strict
        self.active = self.interventions is not None or strict
        """Whether messages and replies must pass through the handlers or strict mode."""
        self.access = None if access is None or access.is_open else access
        """The access policy to check on sends and publishes (None: open)."""
        self._serializable: set[type[Any]] = set()

    def admit_send(self, message: Any, sender: AgentId | None, recipient: AgentId) -> None:
        """AccessDeniedError or SerializationError when the send may not go out."""
        if self.access is not None:
            self.access.check_send(sender, recipient)
        if self.strict:
            self.check_serializable(message)

    def admit_publish(self, message: Any, sender: AgentId | None, topic_id: TopicId) -> bool:
        """False (logged) when the policy drops the publish; SerializationError in strict
        mode for a type without a serializer."""
        if self.access is not None and not self.access.allows_publish(sender, topic_id):
            return False
        if self.strict:
            self.check_serializable(message)
        return True

    async def on_send(self, message: Any, context: MessageContext, recipient: AgentId) -> Any:
        """The message to deliver; MessageDroppedException when a handler drops it."""
        for handler in self.interventions or ():
            changed = await handler.on_send(message, message_context=context, recipient=recipient)
            _warn_if_none(changed, "on_send")
            if _dropped(changed):
                raise MessageDroppedException(
                    f"{type(handler).__name__} dropped {type(message).__name__} for {recipient}"
                )
            if changed is not None:
                message = changed
        return message

    async def on_publish(self, message: Any, context: MessageContext) -> tuple[bool, Any]:
        """``(dropped, message)``: a failing handler drops the message (and is logged)."""
        for handler in self.interventions or ():
            try:
                changed = await handler.on_publish(message, message_context=context)
            except Exception:
                logger.exception("Intervention handler %s failed on publish", handler)
                return True, message
            _warn_if_none(changed, "on_publish")
            if _dropped(changed):
                return True, message
            if changed is not None:
                message = changed
        return False, message

    async def on_response(self, result: Any, sender: AgentId, recipient: AgentId | None) -> Any:
        """The reply the caller gets; MessageDroppedException when a handler drops it."""
        for handler in self.interventions or ():
            changed = await handler.on_response(result, sender=sender, recipient=recipient)
            _warn_if_none(changed, "on_response")
            if _dropped(changed):
                raise MessageDroppedException(f"{type(handler).__name__} dropped the reply")
            if changed is not None:
                result = changed
        if self.strict and result is not None:
            self.check_serializable(result)
        return result

    def check_serializable(self, message: Any) -> None:
        """SerializationError unless the message's type has a registered serializer."""
        cls = type(message)
        if cls in self._serializable:
            return
        if not self.serializers.is_registered(type_name(cls)):
            raise SerializationError(
                f"No serializer registered for message type {cls.__qualname__!r} (strict "
                "serialization): register the agent that handles it or call "
                "add_message_serializer()."
            )
        self._serializable.add(cls)


__all__ = ["MessageGate"]
