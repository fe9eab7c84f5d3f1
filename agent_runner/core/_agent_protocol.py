"""Agent: the protocol every agent of the core message runtime implements.

It is autogen-core's ``Agent``; the agent the I/O runner runs is another contract,
:class:`agent_runner.Agent`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agent_runner.core._agent_id import AgentId
from agent_runner.core._agent_metadata import AgentMetadata
from agent_runner.core._message_context import MessageContext

if TYPE_CHECKING:
    from agent_runner.core._message_runtime import MessageRuntime


@runtime_checkable
class Agent(Protocol):
    """An agent: an addressable object that handles messages one turn at a time.

    Most agents subclass :class:`BaseAgent` or :class:`RoutedAgent` instead of implementing
    this protocol directly.
    """

    @property
    def metadata(self) -> AgentMetadata:
        """Type, key and description of the agent."""
        ...

    @property
    def id(self) -> AgentId:
        """The agent's id."""
        ...

    async def bind_id_and_runtime(self, id: AgentId, runtime: MessageRuntime) -> None:
        """Bind the agent to its id and runtime (called for registered instances)."""
        ...

    async def on_message(self, message: Any, ctx: MessageContext) -> Any:
        """Handle a message; the return value is the RPC's reply (ignored for publishes).

        Raises:
            CantHandleException: The agent cannot handle this message.
        """
        ...

    async def save_state(self) -> Mapping[str, Any]:
        """The agent's state, JSON-serializable."""
        ...

    async def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore state produced by :meth:`save_state`."""
        ...

    async def close(self) -> None:
        """Release resources: called when the runtime closes or deactivates the agent."""
        ...


__all__ = ["Agent"]
