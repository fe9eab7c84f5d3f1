"""TypeSubscription: topic type -> agent type, the topic source is the agent key."""

from __future__ import annotations

import uuid

from agent_runner.core._agent_id import AgentId
from agent_runner.core._agent_type import AgentType
from agent_runner.core._subscription import Subscription
from agent_runner.core._topic import TopicId
from agent_runner.errors import CantHandleException


class TypeSubscription(Subscription):
    """Matches topics of one type; each topic source gets its own agent instance.

    ``TypeSubscription("t1", "a1")`` sends ``TopicId("t1", "s1")`` to ``AgentId("a1", "s1")``
    and ``TopicId("t1", "s2")`` to ``AgentId("a1", "s2")``.

    Args:
        topic_type: The topic type to match.
        agent_type: The agent type that receives the messages.
        id: The subscription id; a new UUID when None.

    Example::

        await runtime.add_subscription(TypeSubscription("progress", "monitor"))
    """

    def __init__(self, topic_type: str, agent_type: str | AgentType, id: str | None = None) -> None:
        self._topic_type = topic_type
        self._agent_type = agent_type.type if isinstance(agent_type, AgentType) else agent_type
        self._id = id or str(uuid.uuid4())

    @property
    def id(self) -> str:
        return self._id

    @property
    def topic_type(self) -> str:
        return self._topic_type

    @property
    def agent_type(self) -> str:
        return self._agent_type

    def is_match(self, topic_id: TopicId) -> bool:
        return topic_id.type == self._topic_type

    def map_to_agent(self, topic_id: TopicId) -> AgentId:
        if not self.is_match(topic_id):
            raise CantHandleException("TopicId does not match the subscription")
        return AgentId(self._agent_type, topic_id.source)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TypeSubscription):
            return False
        return self.id == other.id or (
            self.agent_type == other.agent_type and self.topic_type == other.topic_type
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(topic_type={self._topic_type!r}, "
            f"agent_type={self._agent_type!r}, id={self._id!r})"
        )


__all__ = ["TypeSubscription"]
