"""MessageRuntime: the protocol every message runtime satisfies (in-process or distributed).

It is autogen-core's ``AgentRuntime`` protocol under another name (``AgentRuntime`` is the
I/O runner, :class:`agent_runner.AgentRuntime`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, overload, runtime_checkable

from agent_runner.core._agent_id import AgentId
from agent_runner.core._agent_metadata import AgentMetadata
from agent_runner.core._agent_protocol import Agent
from agent_runner.core._agent_type import AgentType
from agent_runner.core._cancellation_token import CancellationToken
from agent_runner.core._serialization import MessageSerializer
from agent_runner.core._subscription import Subscription
from agent_runner.core._topic import TopicId

T = TypeVar("T", bound=Agent)


@runtime_checkable
class MessageRuntime(Protocol):
    """Delivers messages between agents: RPCs with :meth:`send_message`, events with
    :meth:`publish_message`, plus registration, subscriptions and state.

    Example::

        runtime: MessageRuntime = SingleThreadedAgentRuntime()
        await Worker.register(runtime, "worker", Worker)
        runtime.start()
        reply = await runtime.send_message(Work("x"), AgentId("worker", "default"))
    """

    async def send_message(
        self,
        message: Any,
        recipient: AgentId,
        *,
        sender: AgentId | None = None,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
    ) -> Any:
        """Send ``message`` to ``recipient`` and return its handler's reply.

        Raises:
            CantHandleException: The recipient cannot handle the message.
            UndeliverableException: No agent type ``recipient.type`` is registered.
            MessageDroppedException: An intervention handler dropped the message or reply.
            SerializationError: Strict serialization is on and the type has no serializer.
            RuntimeStoppedError: The runtime stopped before the reply came.
            Exception: Whatever the recipient's handler raised.
        """
        ...

    async def publish_message(
        self,
        message: Any,
        topic_id: TopicId,
        *,
        sender: AgentId | None = None,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
    ) -> None:
        """Publish ``message`` to every subscriber of ``topic_id`` (except the sender);
        returns without waiting for the handlers."""
        ...

    async def register_factory(
        self,
        type: str | AgentType,
        agent_factory: Callable[[], T | Awaitable[T]],
        *,
        expected_class: type[T] | None = None,
    ) -> AgentType:
        """Register a factory that creates the agents of ``type`` on first use."""
        ...

    async def register_agent_instance(self, agent_instance: Agent, agent_id: AgentId) -> AgentId:
        """Register an existing agent instance under ``agent_id``."""
        ...

    async def try_get_underlying_agent_instance(self, id: AgentId, type: type[T] = ...) -> T:
        """The agent object behind ``id`` (LookupError, TypeError, NotAccessibleError)."""
        ...

    @overload
    async def get(self, id_or_type: AgentId, /, *, lazy: bool = ...) -> AgentId: ...

    @overload
    async def get(
        self, id_or_type: AgentType | str, /, key: str = ..., *, lazy: bool = ...
    ) -> AgentId: ...

    async def get(
        self, id_or_type: AgentId | AgentType | str, /, key: str = "default", *, lazy: bool = True
    ) -> AgentId:
        """The id of an agent; with ``lazy=False`` the agent is created now."""
        ...

    async def save_state(self) -> Mapping[str, Any]:
        """The state of every agent, keyed by ``str(agent_id)``."""
        ...

    async def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore states produced by :meth:`save_state`."""
        ...

    async def agent_metadata(self, agent: AgentId) -> AgentMetadata:
        """The metadata of one agent."""
        ...

    async def agent_save_state(self, agent: AgentId) -> Mapping[str, Any]:
        """The state of one agent."""
        ...

    async def agent_load_state(self, agent: AgentId, state: Mapping[str, Any]) -> None:
        """Restore the state of one agent."""
        ...

    async def add_subscription(self, subscription: Subscription) -> None:
        """Add a subscription (ValueError when an equal one exists)."""
        ...

    async def remove_subscription(self, id: str) -> None:
        """Remove the subscription with this id (ValueError when there is none)."""
        ...

    def add_message_serializer(
        self, serializer: MessageSerializer[Any] | Sequence[MessageSerializer[Any]]
    ) -> None:
        """Register serializers for message types."""
        ...


__all__ = ["MessageRuntime"]
