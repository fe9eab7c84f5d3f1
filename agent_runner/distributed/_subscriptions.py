"""Subscriptions shared through Redis, so any process can publish to any subscriber.

``TypeSubscription`` (and ``DefaultSubscription``) and ``TypePrefixSubscription`` are stored
as JSON in the hash ``{prefix}:subs`` under a field that names their content (two workers
registering the same agent class add the subscription once); every change increments
``{prefix}:subs:version``. A publisher matches topics against its cached copy and writes the
events with a Lua script that first checks the version: when the copy is stale nothing is
written, the copy is reloaded and the publish retried. Other subscription classes cannot
travel and only route publishes made by the runtime they were added to.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

import redis.asyncio as redis

from agent_runner.core import (
    AgentId,
    Subscription,
    TopicId,
    TypePrefixSubscription,
    TypeSubscription,
)
from agent_runner.distributed._wire import Keys

_ADD = """
local added = 0
for i = 1, #ARGV, 2 do
  added = added + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
end
if added > 0 then return redis.call('INCR', KEYS[2]) end
return tonumber(redis.call('GET', KEYS[2]) or '0')
"""

_REMOVE = """
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
if removed > 0 then return redis.call('INCR', KEYS[2]) end
return tonumber(redis.call('GET', KEYS[2]) or '0')
"""

PUBLISH_SCRIPT = """
local version = tonumber(redis.call('GET', KEYS[1]) or '0')
if version ~= tonumber(ARGV[1]) then return -1 end
for i = 2, #KEYS do
  redis.call('XADD', KEYS[i], '*', 'h', ARGV[i + 1], 'd', ARGV[2])
end
return #KEYS - 1
"""
"""KEYS: version key, then one inbox stream per recipient; ARGV: expected version, payload,
then one header per recipient. Returns -1 when the caller's subscription copy is stale."""


def encode_subscription(sub: Subscription) -> tuple[str, str] | None:
    """``(field, json)`` for a subscription that can travel; None for other classes."""
    if isinstance(sub, TypeSubscription):
        field = f"type|{sub.topic_type}|{sub.agent_type}"
        body = {"kind": "type", "id": sub.id, "topic_type": sub.topic_type}
    elif isinstance(sub, TypePrefixSubscription):
        field = f"type_prefix|{sub.topic_type_prefix}|{sub.agent_type}"
        body = {"kind": "type_prefix", "id": sub.id, "topic_type_prefix": sub.topic_type_prefix}
    else:
        return None
    body["agent_type"] = sub.agent_type
    return field, json.dumps(body, separators=(",", ":"))


def decode_subscription(raw: bytes | str) -> Subscription | None:
    """The subscription stored as JSON; None for an unknown kind."""
    body: Any = json.loads(raw)
    kind = body.get("kind")
    if kind == "type":
        return TypeSubscription(body["topic_type"], body["agent_type"], id=body.get("id"))
    if kind == "type_prefix":
        return TypePrefixSubscription(
            body["topic_type_prefix"], body["agent_type"], id=body.get("id")
        )
    return None


class SubscriptionTable:
    """This runtime's view of every subscription, refreshed when its version changes."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._add = client.register_script(_ADD)
        self._remove = client.register_script(_REMOVE)
        self.local: list[Subscription] = []
        """Subscriptions added through this runtime (re-asserted after a Redis data loss)."""
        self._shared: dict[str, Subscription] = {}
        self.version: int | None = None
        """Version of the shared copy; None until loaded."""
        self._cache: dict[TopicId, list[AgentId]] = {}
        self._loading: asyncio.Future[None] | None = None

    async def add(self, sub: Subscription) -> None:
        if any(existing == sub for existing in self.local):
            raise ValueError("Subscription already exists")
        self.local.append(sub)
        self._cache.clear()
        encoded = encode_subscription(sub)
        if encoded is not None:
            await self._add(
                keys=[self._keys.subscriptions, self._keys.subscriptions_version], args=encoded
            )
            self.version = None

    async def reassert(self) -> None:
        """Write this runtime's shareable subscriptions again (no-op when present)."""
        args: list[str] = []
        for sub in self.local:
            encoded = encode_subscription(sub)
            if encoded is not None:
                args += encoded
        if args:
            await self._add(
                keys=[self._keys.subscriptions, self._keys.subscriptions_version], args=args
            )

    async def remove(self, id: str) -> None:
        await self.load()
        local = [s for s in self.local if s.id == id]
        shared = [f for f, s in self._shared.items() if s.id == id]
        if not local and not shared:
            raise ValueError("Subscription does not exist")
        self.local = [s for s in self.local if s.id != id]
        for sub in local:
            encoded = encode_subscription(sub)
            if encoded is not None and encoded[0] not in shared:
                shared.append(encoded[0])
        for field in shared:
            await self._remove(
                keys=[self._keys.subscriptions, self._keys.subscriptions_version], args=[field]
            )
        self.version = None
        self._cache.clear()

    async def load(self) -> None:
        """Reload the shared copy (one round trip; concurrent callers share it)."""
        loading = self._loading
        if loading is None or loading.done():
            loading = self._loading = asyncio.ensure_future(self._load())
        await asyncio.shield(loading)

    async def _load(self) -> None:
        pipe = self._client.pipeline(transaction=True)
        pipe.get(self._keys.subscriptions_version)
        pipe.hgetall(self._keys.subscriptions)
        version, table = await pipe.execute()
        shared: dict[str, Subscription] = {}
        for field, raw in table.items():
            sub = decode_subscription(raw)
            if sub is not None:
                shared[field.decode() if isinstance(field, bytes) else field] = sub
        self._shared = shared
        self.version = int(version or 0)
        self._cache.clear()

    def all(self) -> Iterable[Subscription]:
        yield from self._shared.values()
        for sub in self.local:
            if encode_subscription(sub) is None:
                yield sub

    def recipients(self, topic: TopicId) -> list[AgentId]:
        """The agents a publish on ``topic`` goes to (each once)."""
        found = self._cache.get(topic)
        if found is None:
            seen: dict[AgentId, None] = {}
            for sub in self.all():
                if sub.is_match(topic):
                    seen[sub.map_to_agent(topic)] = None
            found = self._cache[topic] = list(seen)
        return found
