"""AgentAccess: the agents of a deployment, wherever they are active.

An agent's metadata and state are asked of the worker where it is active, with a control
message on its partition stream, so they come in the agent's message order. The agent object
itself is reachable only in the worker that owns its partition.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any, TypeVar, cast

import redis.asyncio as redis

from agent_runner.core import Agent, AgentId, AgentMetadata, CancellationToken
from agent_runner.distributed._heartbeat import Heartbeat
from agent_runner.distributed._hosted_agents import HostedAgents
from agent_runner.distributed._messenger import Messenger
from agent_runner.distributed._partition_counts import PartitionCounts
from agent_runner.distributed._wire import (
    LOAD_STATE,
    METADATA,
    SAVE_STATE,
    Header,
    Keys,
    partition_of,
)
from agent_runner.errors import NotAccessibleError

logger = logging.getLogger(__name__)
T = TypeVar("T", bound=Agent)


class AgentAccess:
    """Reaches agents for the state and lookup methods of the runtime."""

    def __init__(
        self,
        messenger: Messenger,
        agents: HostedAgents,
        heartbeat: Heartbeat,
        counts: PartitionCounts,
        client: redis.Redis,
        keys: Keys,
        *,
        worker_id: str,
    ) -> None:
        self._messenger = messenger
        self._agents = agents
        self._table = heartbeat.table
        self._heartbeat = heartbeat
        self._counts = counts
        self._client = client
        self._keys = keys
        self._worker_id = worker_id

    async def _control(self, kind: str, agent: AgentId, data: bytes = b"") -> Any:
        header: Header = {"kind": kind}
        return await self._messenger.request(
            header, agent, data, None, CancellationToken(), str(uuid.uuid4())
        )

    async def metadata(self, agent: AgentId) -> AgentMetadata:
        return cast(AgentMetadata, await self._control(METADATA, agent))

    async def save(self, agent: AgentId) -> Mapping[str, Any]:
        return cast(Mapping[str, Any], await self._control(SAVE_STATE, agent))

    async def load(self, agent: AgentId, state: Mapping[str, Any]) -> None:
        await self._control(LOAD_STATE, agent, json.dumps(dict(state)).encode())

    async def save_all(self) -> dict[str, Any]:
        """States of the hosted types' agents: current ones here, last saved ones elsewhere."""
        out: dict[str, Any] = {}
        for agent_type in self._agents.factories:
            saved = await self._client.hgetall(self._keys.state(agent_type))
            for key, raw in saved.items():
                name = key.decode() if isinstance(key, bytes) else str(key)
                out[f"{agent_type}/{name}"] = json.loads(raw)
        for agent_id, agent in list(self._agents.agents.items()):
            out[str(agent_id)] = dict(await agent.save_state())
        return out

    async def load_all(self, state: Mapping[str, Any]) -> None:
        """Load every ``type/key`` state (types no worker registered are skipped)."""
        for name, agent_state in state.items():
            agent_id = AgentId.from_str(name)
            if await self._counts.of(agent_id.type) is None:
                logger.warning("load_state: no agent type %r is registered; skipped", agent_id.type)
                continue
            await self.load(agent_id, agent_state)

    async def local(self, id: AgentId, type: type[T]) -> T:
        """The agent object; NotAccessibleError when it is active on another worker."""
        if id.type not in self._agents.factories:
            raise LookupError(f"Agent with name {id.type} not found.")
        if id not in self._agents.agents and not await self._owned_here(id):
            raise NotAccessibleError(f"{id} is active on another worker, not on {self._worker_id}")
        agent = await self._agents.get(id)
        if not isinstance(agent, type):
            raise TypeError(
                f"Agent with name {id.type} is not of type {type.__name__}. "
                f"It is of type {agent.__class__.__name__}"
            )
        return agent

    async def activate(self, agent_id: AgentId) -> None:
        """Make the agent active, here when its partition is ours, else where it lives."""
        if agent_id.type in self._agents.factories and await self._owned_here(agent_id):
            await self._agents.get(agent_id)
        else:
            await self.metadata(agent_id)

    async def _owned_here(self, id: AgentId) -> bool:
        count = await self._counts.of(id.type)
        if count is None:
            return False
        key = (id.type, partition_of(id.key, count))
        if not self._table.owns(key) and self._heartbeat.running:
            await self._heartbeat.step()
        return self._table.owns(key)


__all__ = ["AgentAccess"]
