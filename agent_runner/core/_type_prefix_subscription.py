"""TypePrefixSubscription: topic types starting with a prefix -> agent type."""

from __future__ import annotations

import uuid

from agent_runner.core._agent_id import AgentId
from agent_runner.core._agent_type import AgentType
from agent_runner.core._subscription import Subscription
from agent_runner.core._topic import TopicId
from agent_runner.errors import CantHandleException


class TypePrefixSubscription(Subscription):
    """Matches topics whose type starts with a prefix; the topic source is the agent key.

    ``TypePrefixSubscription("t1", "a1")`` sends ``TopicId("t1", "s1")`` and
    ``TopicId("t1SUFFIX", "s2")`` to ``AgentId("a1", "s1")`` and ``AgentId("a1", "s2")``.

    Args:
        topic_type_prefix: The prefix of the topic types to match.
        agent_type: The agent type that receives the messages.
        id: The subscription id; a new UUID when None.

    Example::

        await runtime.add_subscription(TypePrefixSubscription("audit.", "auditor"))
    """

    def __init__(
        self, topic_type_prefix: str, agent_type: str | AgentType, id: str | None = None
    ) -> None:
        self._topic_type_prefix = topic_type_prefix
        self._agent_type = agent_type.type if isinstance(agent_type, AgentType) else agent_type
        self._id = id or str(uuid.uuid4())

    @property
    def id(self) -> str:
        return self._id

    @property
    def topic_type_prefix(self) -> str:
        return self._topic_type_prefix

    @property
    def agent_type(self) -> str:
        return self._agent_type

    def is_match(self, topic_id: TopicId) -> bool:
        return topic_id.type.startswith(self._topic_type_prefix)

    def map_to_agent(self, topic_id: TopicId) -> AgentId:
        if not self.is_match(topic_id):
            raise CantHandleException("TopicId does not match the subscription")
        return AgentId(self._agent_type, topic_id.source)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TypePrefixSubscription):
            return False
        return self.id == other.id or (
            self.agent_type == other.agent_type
            and self.topic_type_prefix == other.topic_type_prefix
        )

    def __repr__(self) -> str:
        return (
            f"TypePrefixSubscription(topic_type_prefix={self._topic_type_prefix!r}, "
            f"agent_type={self._agent_type!r}, id={self._id!r})"
        )


__all__ = ["TypePrefixSubscription"]
