"""SubscriptionManager: the subscriptions of a runtime and a cache of topic -> recipients."""

from __future__ import annotations

import logging
from collections.abc import Container, Sequence

from agent_runner.core._agent_id import AgentId
from agent_runner.core._subscription import Subscription
from agent_runner.core._topic import TopicId

logger = logging.getLogger("agent_runner.core")


class SubscriptionManager:
    """Holds subscriptions and resolves a topic to its recipients (of known agent types).

    Resolutions are cached per topic (at most ``max_cached_topics``; the cache is dropped
    when full and whenever a subscription is added or removed), so a publish to a known
    topic costs one dict lookup. Recipients are de-duplicated, in subscription order.
    """

    __slots__ = ("_cache", "_known_types", "_max_cached_topics", "_subscriptions")

    def __init__(
        self, *, known_types: Container[str] | None = None, max_cached_topics: int = 4096
    ) -> None:
        self._subscriptions: list[Subscription] = []
        self._cache: dict[TopicId, tuple[AgentId, ...]] = {}
        self._known_types = known_types
        self._max_cached_topics = max_cached_topics

    def invalidate(self) -> None:
        """Forget cached resolutions (call when the set of known agent types changes)."""
        self._cache.clear()

    @property
    def subscriptions(self) -> Sequence[Subscription]:
        return tuple(self._subscriptions)

    def add(self, subscription: Subscription) -> None:
        """Add a subscription; ValueError when an equal one exists."""
        if any(existing == subscription for existing in self._subscriptions):
            raise ValueError("Subscription already exists")
        self._subscriptions.append(subscription)
        self._cache.clear()

    def remove(self, id: str) -> None:
        """Remove the subscription with ``id``; ValueError when there is none."""
        kept = [s for s in self._subscriptions if s.id != id]
        if len(kept) == len(self._subscriptions):
            raise ValueError("Subscription does not exist")
        self._subscriptions = kept
        self._cache.clear()

    def recipients(self, topic_id: TopicId) -> tuple[AgentId, ...]:
        """The agents that receive messages published to ``topic_id``."""
        found = self._cache.get(topic_id)
        if found is None:
            found = tuple(
                dict.fromkeys(
                    s.map_to_agent(topic_id) for s in self._subscriptions if s.is_match(topic_id)
                )
            )
            known = self._known_types
            if known is not None:
                unknown = [a for a in found if a.type not in known]
                for agent_id in unknown:
                    logger.error(
                        "No agent type %r for a subscription of %s", agent_id.type, topic_id
                    )
                if unknown:
                    found = tuple(a for a in found if a.type in known)
            if len(self._cache) >= self._max_cached_topics:
                self._cache.clear()
            self._cache[topic_id] = found
        return found


__all__ = ["SubscriptionManager"]
