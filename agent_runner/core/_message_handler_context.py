"""MessageHandlerContext: which agent's handler is running, and the call chain it belongs to.

A runtime marks every handler invocation with a :data:`HandlerFrame` kept in a context
variable. The frames link back to the frame of the handler that sent the message, so a
runtime can tell when a call comes back to an agent that is waiting in the same chain
(A asks B, B asks A) and run it at once instead of queueing it behind the waiting turn.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar

from agent_runner.core._agent_id import AgentId

HandlerFrame = list[Any]
"""One running handler invocation: ``[agent_id, parent_frame, active]``.

``parent_frame`` is the frame of the handler that sent the message (None when the sender is
outside the runtime or is not waiting for the reply); ``active`` turns False when the
invocation ends. A plain list, because runtimes make one per delivered message.
"""

AGENT, PARENT, ACTIVE = 0, 1, 2
"""Indexes of a :data:`HandlerFrame`."""


def new_frame(agent_id: AgentId, parent: HandlerFrame | None) -> HandlerFrame:
    """An active frame for ``agent_id`` called from ``parent``."""
    return [agent_id, parent, True]


CURRENT_FRAME: ContextVar[HandlerFrame | None] = ContextVar(
    "agent_runner_core_current_frame", default=None
)
"""The frame of the handler running in the current context (None outside handlers)."""


def chain_contains(frame: HandlerFrame | None, agent_id: AgentId) -> bool:
    """Whether ``agent_id`` has a running invocation in the chain that ends at ``frame``."""
    while frame is not None:
        if frame[2] and frame[0] == agent_id:
            return True
        frame = frame[1]
    return False


class MessageHandlerContext:
    """Static access to the id of the agent whose message handler is running.

    Example::

        class Greeter(RoutedAgent):
            @event
            async def on_hello(self, message: Hello, ctx: MessageContext) -> None:
                assert MessageHandlerContext.agent_id() == self.id
    """

    _MESSAGE_HANDLER_CONTEXT: ClassVar[ContextVar[HandlerFrame | None]] = CURRENT_FRAME

    def __init__(self) -> None:
        raise RuntimeError(
            "MessageHandlerContext cannot be instantiated. It is a static class that provides "
            "context management for message handling."
        )

    @classmethod
    @contextmanager
    def populate_context(cls, ctx: AgentId) -> Generator[None, Any, None]:
        """:meta private: Mark ``ctx`` as the agent whose handler runs in this block."""
        frame = new_frame(ctx, CURRENT_FRAME.get())
        token = CURRENT_FRAME.set(frame)
        try:
            yield
        finally:
            frame[ACTIVE] = False
            CURRENT_FRAME.reset(token)

    @classmethod
    def agent_id(cls) -> AgentId:
        """The id of the agent whose handler is running; RuntimeError outside a handler."""
        frame = CURRENT_FRAME.get()
        if frame is None:
            raise RuntimeError(
                "MessageHandlerContext.agent_id() must be called within a message handler."
            )
        agent_id: AgentId = frame[AGENT]
        return agent_id


__all__ = [
    "ACTIVE",
    "AGENT",
    "CURRENT_FRAME",
    "PARENT",
    "HandlerFrame",
    "new_frame",
    "MessageHandlerContext",
    "chain_contains",
]
