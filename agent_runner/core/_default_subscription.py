"""DefaultSubscription and the ``default_subscription`` / ``type_subscription`` decorators."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, overload

from agent_runner.core._agent_type import AgentType
from agent_runner.core._base_agent import BaseAgent, subscription_factory
from agent_runner.core._subscription_context import SubscriptionInstantiationContext
from agent_runner.core._type_subscription import TypeSubscription
from agent_runner.errors import CantHandleException

BaseAgentType = TypeVar("BaseAgentType", bound=BaseAgent)


class DefaultSubscription(TypeSubscription):
    """A :class:`TypeSubscription` to topic type ``"default"`` for the agent type being
    registered (found from the registration context when ``agent_type`` is None).

    Example::

        await ClosureAgent.register_closure(
            runtime, "log", log, subscriptions=lambda: [DefaultSubscription()]
        )
    """

    def __init__(self, topic_type: str = "default", agent_type: str | AgentType | None = None):
        if agent_type is None:
            try:
                agent_type = SubscriptionInstantiationContext.agent_type().type
            except RuntimeError as e:
                raise CantHandleException(
                    "If agent_type is not specified DefaultSubscription must be created within "
                    "the subscription callback in register()."
                ) from e
        super().__init__(topic_type, agent_type)


@overload
def default_subscription() -> Callable[[type[BaseAgentType]], type[BaseAgentType]]: ...


@overload
def default_subscription(cls: type[BaseAgentType]) -> type[BaseAgentType]: ...


def default_subscription(
    cls: type[BaseAgentType] | None = None,
) -> Callable[[type[BaseAgentType]], type[BaseAgentType]] | type[BaseAgentType]:
    """Class decorator: the class's agents subscribe to topic type ``"default"``.

    Example::

        @default_subscription
        class Logger(RoutedAgent): ...
    """
    decorator: Callable[[type[BaseAgentType]], type[BaseAgentType]] = subscription_factory(
        lambda: [DefaultSubscription()]
    )
    return decorator if cls is None else decorator(cls)


def type_subscription(topic_type: str) -> Callable[[type[BaseAgentType]], type[BaseAgentType]]:
    """Class decorator: the class's agents subscribe to ``topic_type`` (key = topic source).

    Example::

        @type_subscription("progress")
        class Monitor(RoutedAgent): ...
    """
    return subscription_factory(lambda: [DefaultSubscription(topic_type=topic_type)])


__all__ = ["DefaultSubscription", "default_subscription", "type_subscription"]
