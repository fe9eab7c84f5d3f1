"""Subscription: which topics an agent type listens to, and which instance gets each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from agent_runner.core._agent_id import AgentId
from agent_runner.core._topic import TopicId


@runtime_checkable
class Subscription(Protocol):
    """Maps topics to agents: :meth:`is_match` selects topics, :meth:`map_to_agent` picks the
    agent instance that receives a matching topic's messages.

    Two subscriptions are equal when their ids are equal (implementations may also compare
    their content, as :class:`TypeSubscription` does).
    """

    @property
    def id(self) -> str:
        """A unique id of the subscription (usually a UUID)."""
        ...

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Subscription):
            return False
        return self.id == other.id

    def is_match(self, topic_id: TopicId) -> bool:
        """Whether messages published to ``topic_id`` concern this subscription."""
        ...

    def map_to_agent(self, topic_id: TopicId) -> AgentId:
        """The agent that receives ``topic_id``'s messages (only when :meth:`is_match`).

        Raises:
            CantHandleException: The topic does not match.
        """
        ...


UnboundSubscription = Callable[[], list[Subscription] | Awaitable[list[Subscription]]]
"""A callable that creates subscriptions once the agent type is known (class decorators)."""


__all__ = ["Subscription", "UnboundSubscription"]
