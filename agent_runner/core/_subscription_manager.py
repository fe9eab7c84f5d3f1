"""SubscriptionManager: the subscriptions of a runtime and a cache of topic -> recipients."""

from __future__ import annotations

from collections.abc import Sequence

from agent_runner.core._agent_id import AgentId
from agent_runner.core._subscription import Subscription
from agent_runner.core._topic import TopicId


class SubscriptionManager:
    """Holds subscriptions and resolves a topic to its recipients.

    Resolutions are cached per topic (at most ``max_cached_topics``; the cache is dropped
    when full and whenever a subscription is added or removed), so a publish to a known
    topic costs one dict lookup. Recipients are de-duplicated, in subscription order.
    """

    __slots__ = ("_cache", "_max_cached_topics", "_subscriptions")

    def __init__(self, *, max_cached_topics: int = 4096) -> None:
        self._subscriptions: list[Subscription] = []
        self._cache: dict[TopicId, tuple[AgentId, ...]] = {}
        self._max_cached_topics = max_cached_topics

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
            if len(self._cache) >= self._max_cached_topics:
                self._cache.clear()
            self._cache[topic_id] = found
        return found


__all__ = ["SubscriptionManager"]
