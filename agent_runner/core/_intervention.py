"""Intervention handlers: see, change or drop every message a runtime carries."""

from __future__ import annotations

from typing import Any, Protocol, final

from agent_runner.core._agent_id import AgentId
from agent_runner.core._message_context import MessageContext


@final
class DropMessage:
    """Return this type (the class itself) from an intervention handler to drop a message."""


class InterventionHandler(Protocol):
    """Intercepts messages when they are sent, published, or answered.

    Each method returns the message to carry on with (possibly changed) or
    :class:`DropMessage` to drop it: a dropped send raises
    :class:`~agent_runner.errors.MessageDroppedException` in the sender, a dropped publish
    reaches nobody, a dropped response raises it in the RPC's caller. Returning None is
    treated as "no change" with a warning.

    Example::

        class Upper(DefaultInterventionHandler):
            async def on_send(self, message: Any, *, message_context: MessageContext,
                              recipient: AgentId) -> Any:
                return message.upper() if isinstance(message, str) else message

        runtime = SingleThreadedAgentRuntime(intervention_handlers=[Upper()])
    """

    async def on_send(
        self, message: Any, *, message_context: MessageContext, recipient: AgentId
    ) -> Any | type[DropMessage]:
        """Called for :meth:`MessageRuntime.send_message`."""
        ...

    async def on_publish(
        self, message: Any, *, message_context: MessageContext
    ) -> Any | type[DropMessage]:
        """Called for :meth:`MessageRuntime.publish_message`."""
        ...

    async def on_response(
        self, message: Any, *, sender: AgentId, recipient: AgentId | None
    ) -> Any | type[DropMessage]:
        """Called with the value an RPC handler returned, before the caller gets it."""
        ...


class DefaultInterventionHandler(InterventionHandler):
    """An intervention handler that changes nothing; subclass it and override what you need."""

    async def on_send(
        self, message: Any, *, message_context: MessageContext, recipient: AgentId
    ) -> Any | type[DropMessage]:
        return message

    async def on_publish(
        self, message: Any, *, message_context: MessageContext
    ) -> Any | type[DropMessage]:
        return message

    async def on_response(
        self, message: Any, *, sender: AgentId, recipient: AgentId | None
    ) -> Any | type[DropMessage]:
        return message


__all__ = ["DefaultInterventionHandler", "DropMessage", "InterventionHandler"]
