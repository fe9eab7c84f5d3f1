"""BaseAgent: the small base class most agents build on."""

from __future__ import annotations

import builtins
import inspect
import warnings
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar, final

from agent_runner.core._agent_id import AgentId
from agent_runner.core._agent_instantiation import AgentInstantiationContext
from agent_runner.core._agent_metadata import AgentMetadata
from agent_runner.core._agent_protocol import Agent
from agent_runner.core._agent_type import AgentType
from agent_runner.core._cancellation_token import CancellationToken
from agent_runner.core._message_context import MessageContext
from agent_runner.core._serialization import MessageSerializer, try_get_known_serializers_for_type
from agent_runner.core._subscription import Subscription, UnboundSubscription
from agent_runner.core._subscription_context import SubscriptionInstantiationContext
from agent_runner.core._topic import TopicId
from agent_runner.core._type_prefix_subscription import TypePrefixSubscription
from agent_runner.core._type_subscription import TypeSubscription

if TYPE_CHECKING:
    from agent_runner.core._message_runtime import MessageRuntime

BaseAgentType = TypeVar("BaseAgentType", bound="BaseAgent")


def subscription_factory(
    subscription: UnboundSubscription,
) -> Callable[[type[BaseAgentType]], type[BaseAgentType]]:
    """:meta private: Class decorator adding subscriptions made when the class is registered."""

    def decorator(cls: type[BaseAgentType]) -> type[BaseAgentType]:
        cls.internal_unbound_subscriptions_list.append(subscription)
        return cls

    return decorator


def handles(
    type: builtins.type[Any],
    serializer: MessageSerializer[Any] | list[MessageSerializer[Any]] | None = None,
) -> Callable[[builtins.type[BaseAgentType]], builtins.type[BaseAgentType]]:
    """Class decorator: the agent handles ``type``; its serializers are registered with it."""

    def decorator(cls: builtins.type[BaseAgentType]) -> builtins.type[BaseAgentType]:
        if serializer is None:
            serializer_list = try_get_known_serializers_for_type(type)
        else:
            serializer_list = list(serializer) if isinstance(serializer, Sequence) else [serializer]
        if not serializer_list:
            raise ValueError(f"No serializers found for type {type}. Give one explicitly.")
        cls.internal_extra_handles_types.append((type, serializer_list))
        return cls

    return decorator


async def _bind_subscriptions(
    unbound: Sequence[UnboundSubscription], agent_type: AgentType
) -> list[Subscription]:
    subscriptions: list[Subscription] = []
    with SubscriptionInstantiationContext.populate_context(agent_type):
        for make in unbound:
            made = make()
            subscriptions.extend(await made if inspect.isawaitable(made) else made)
    return subscriptions


class BaseAgent(ABC, Agent):
    """Base class for agents: id, runtime, messaging helpers and registration.

    Subclasses implement :meth:`on_message_impl` (or use :class:`RoutedAgent`). One instance
    handles one message at a time, in arrival order; a call chain that comes back to the
    agent (A asks B, B asks A, A asks A) runs at once instead of waiting. Tasks a handler
    starts (``asyncio.gather``, ``create_task``) belong to its turn: what they send back to
    the agent also runs at once, so await them before the handler returns. Set
    ``concurrent_handling = True`` on a class to let its instances handle messages
    concurrently (autogen-core's behaviour).

    Example::

        class Counter(BaseAgent):
            def __init__(self) -> None:
                super().__init__("counts messages")
                self.count = 0

            async def on_message_impl(self, message: Any, ctx: MessageContext) -> int:
                self.count += 1
                return self.count

        await Counter.register(runtime, "counter", Counter)
    """

    concurrent_handling: ClassVar[bool] = False
    """When True, the runtime starts each message's handler at once, in arrival order, without
    waiting for the previous one to finish (no actor turns for this class)."""

    internal_unbound_subscriptions_list: ClassVar[list[UnboundSubscription]] = []
    """:meta private:"""
    internal_extra_handles_types: ClassVar[
        list[tuple[type[Any], list[MessageSerializer[Any]]]]
    ] = []
    """:meta private:"""

    _id: AgentId
    _runtime: MessageRuntime

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.internal_extra_handles_types = []
        cls.internal_unbound_subscriptions_list = []

    def __init__(self, description: str) -> None:
        created_by = AgentInstantiationContext._AGENT_INSTANTIATION_CONTEXT_VAR.get(None)
        if created_by is not None:
            self._runtime, self._id = created_by
        if description.__class__ is not str and not isinstance(description, str):
            raise ValueError("Agent description must be a string")
        self._description = description

    @classmethod
    def _handles_types(cls) -> list[tuple[type[Any], list[MessageSerializer[Any]]]]:
        return cls.internal_extra_handles_types

    @classmethod
    def _unbound_subscriptions(cls) -> list[UnboundSubscription]:
        return cls.internal_unbound_subscriptions_list

    @property
    def metadata(self) -> AgentMetadata:
        return AgentMetadata(key=self._id.key, type=self._id.type, description=self._description)

    async def bind_id_and_runtime(self, id: AgentId, runtime: MessageRuntime) -> None:
        if hasattr(self, "_id") and self._id != id:
            raise RuntimeError("Agent is already bound to a different ID")
        if hasattr(self, "_runtime") and self._runtime is not runtime:
            raise RuntimeError("Agent is already bound to a different runtime")
        self._id = id
        self._runtime = runtime

    @property
    def type(self) -> str:
        return self._id.type

    @property
    def id(self) -> AgentId:
        return self._id

    @property
    def runtime(self) -> MessageRuntime:
        return self._runtime

    @final
    async def on_message(self, message: Any, ctx: MessageContext) -> Any:
        return await self.on_message_impl(message, ctx)

    @abstractmethod
    async def on_message_impl(self, message: Any, ctx: MessageContext) -> Any: ...

    async def send_message(
        self,
        message: Any,
        recipient: AgentId,
        *,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
    ) -> Any:
        """Send an RPC as this agent; see :meth:`MessageRuntime.send_message`."""
        return await self._runtime.send_message(
            message,
            recipient,
            sender=self._id,
            cancellation_token=cancellation_token,
            message_id=message_id,
        )

    async def publish_message(
        self,
        message: Any,
        topic_id: TopicId,
        *,
        cancellation_token: CancellationToken | None = None,
    ) -> None:
        """Publish as this agent; see :meth:`MessageRuntime.publish_message`."""
        await self._runtime.publish_message(
            message, topic_id, sender=self._id, cancellation_token=cancellation_token
        )

    async def save_state(self) -> Mapping[str, Any]:
        warnings.warn("save_state not implemented", stacklevel=2)
        return {}

    async def load_state(self, state: Mapping[str, Any]) -> None:
        warnings.warn("load_state not implemented", stacklevel=2)

    async def close(self) -> None:
        pass

    async def register_instance(
        self,
        runtime: MessageRuntime,
        agent_id: AgentId,
        *,
        skip_class_subscriptions: bool = True,
        skip_direct_message_subscription: bool = False,
    ) -> AgentId:
        """Register this instance as ``agent_id``, subscribed to topic type ``agent_id.key``.

        Example::

            await Monitor("watches").register_instance(runtime, AgentId("monitor", "m1"))
        """
        agent_id = await runtime.register_agent_instance(agent_instance=self, agent_id=agent_id)
        await runtime.add_subscription(TypeSubscription(agent_id.key, agent_id.type))
        if not skip_class_subscriptions:
            subscriptions = await _bind_subscriptions(
                self._unbound_subscriptions(), AgentType(agent_id.type)
            )
            for subscription in subscriptions:
                await runtime.add_subscription(subscription)
        if not skip_direct_message_subscription:
            try:
                await runtime.add_subscription(
                    TypePrefixSubscription(agent_id.type + ":", agent_id.type)
                )
            except ValueError:
                pass  # another instance of the type added it already
        for _message_type, serializers in self._handles_types():
            runtime.add_message_serializer(serializers)
        return agent_id

    @classmethod
    async def register(
        cls,
        runtime: MessageRuntime,
        type: str,
        factory: Callable[[], Self | Awaitable[Self]],
        *,
        skip_class_subscriptions: bool = False,
        skip_direct_message_subscription: bool = False,
    ) -> AgentType:
        """Register a factory for agents of ``type`` with the class's subscriptions, a
        ``type + ":"`` prefix subscription for direct messages, and its serializers.

        Example::

            await Worker.register(runtime, "worker", lambda: Worker("does the work"))
        """
        agent_type = await runtime.register_factory(
            type=AgentType(type), agent_factory=factory, expected_class=cls
        )
        if not skip_class_subscriptions:
            for subscription in await _bind_subscriptions(cls._unbound_subscriptions(), agent_type):
                await runtime.add_subscription(subscription)
        if not skip_direct_message_subscription:
            await runtime.add_subscription(
                TypePrefixSubscription(agent_type.type + ":", agent_type.type)
            )
        for _message_type, serializers in cls._handles_types():
            runtime.add_message_serializer(serializers)
        return agent_type


__all__ = ["BaseAgent", "handles", "subscription_factory"]
