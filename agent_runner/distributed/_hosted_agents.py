"""HostedAgents: the agent types a worker hosts and their live instances.

An agent is created on its first message here (inside an :class:`AgentInstantiationContext`)
with the state it last saved in ``{prefix}:state:{type}``; after each message its state is
saved again when it changed; when its partition moves to another worker it is closed, and
comes back there with that state. Registered instances are pinned: never closed that way.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from agent_runner.core import Agent, AgentId, AgentInstantiationContext, AgentType, BaseAgent
from agent_runner.distributed._outbox import Outbox
from agent_runner.distributed._partition_counts import PartitionCounts
from agent_runner.distributed._registry import Partition
from agent_runner.distributed._wire import Keys, partition_of
from agent_runner.errors import UnregisteredInstanceError

if TYPE_CHECKING:
    from agent_runner.core import MessageRuntime

logger = logging.getLogger(__name__)

T = TypeVar("T", bound=Agent)
AgentFactory = Callable[[AgentId], Awaitable[Agent]]


def _has_own_state(agent: Agent) -> bool:
    save = getattr(type(agent), "save_state", None)
    return save is not None and save is not BaseAgent.save_state


class HostedAgents:
    """Factories and live agents of one worker, and the states they saved."""

    def __init__(
        self,
        runtime: MessageRuntime,
        outbox: Outbox,
        keys: Keys,
        counts: PartitionCounts,
        *,
        worker_id: str,
    ) -> None:
        self._runtime = runtime
        self._outbox = outbox
        self._keys = keys
        self._counts = counts
        self._worker_id = worker_id
        self.factories: dict[str, AgentFactory] = {}
        self.agents: dict[AgentId, Agent] = {}
        self._activating: dict[AgentId, asyncio.Future[Agent]] = {}
        self._saved: dict[AgentId, str] = {}
        """The state each live agent last saved (JSON text), to skip unchanged saves."""
        self._instance_types: dict[str, type[Agent]] = {}
        self._pinned: set[AgentId] = set()

    # -- registration ----------------------------------------------------------------
    def register_factory(
        self,
        type: str | AgentType,
        agent_factory: Callable[[], T | Awaitable[T]],
        expected_class: type[T] | None,
    ) -> str:
        """Host the agents of ``type``, made by ``agent_factory``; returns the type name."""
        name = type.type if isinstance(type, AgentType) else type
        if name in self.factories:
            raise ValueError(f"Agent with type {name} already exists.")
        runtime = self._runtime

        async def make(agent_id: AgentId) -> Agent:
            if len(inspect.signature(agent_factory).parameters) == 2:
                made: Any = cast(Callable[[Any, AgentId], Any], agent_factory)(runtime, agent_id)
            else:
                made = agent_factory()
            if inspect.isawaitable(made):
                made = await made
            if expected_class is not None and not isinstance(made, expected_class):
                raise ValueError(
                    f"Factory registered using the wrong type: expected "
                    f"{expected_class.__name__}, got {made.__class__.__name__}"
                )
            return cast(Agent, made)

        self.factories[name] = make
        return name

    async def register_instance(self, agent_instance: Agent, agent_id: AgentId) -> bool:
        """Host one instance (pinned); True when its type is new here (to advertise)."""
        if agent_id in self.agents:
            raise ValueError(f"Agent with id {agent_id} already exists.")
        known = self._instance_types.get(agent_id.type)
        if agent_id.type in self.factories and known is None:
            raise ValueError(
                "Agent factories and agent instances cannot be registered to the same type."
            )
        if known is not None and known is not agent_instance.__class__:
            raise ValueError("Agent instances must be the same object type.")
        await agent_instance.bind_id_and_runtime(id=agent_id, runtime=self._runtime)
        self.agents[agent_id] = agent_instance
        self._pinned.add(agent_id)
        if known is not None:
            return False
        self._instance_types[agent_id.type] = agent_instance.__class__

        worker = self._worker_id

        async def no_factory(missing: AgentId) -> Agent:
            raise UnregisteredInstanceError(
                f"No agent {missing} on worker {worker}: type {missing.type!r} has only "
                "registered instances (check the subscriptions that map topics to this type)."
            )

        self.factories[agent_id.type] = no_factory
        return True

    # -- activation ------------------------------------------------------------------
    async def get(self, agent_id: AgentId) -> Agent:
        """The live agent, created here with its saved state when needed."""
        agent = self.agents.get(agent_id)
        if agent is not None:
            return agent
        pending = self._activating.get(agent_id)
        if pending is not None:
            return await asyncio.shield(pending)
        factory = self.factories.get(agent_id.type)
        if factory is None:
            raise LookupError(f"Agent type {agent_id.type!r} is not hosted by {self._worker_id}")
        future: asyncio.Future[Agent] = asyncio.get_running_loop().create_future()
        self._activating[agent_id] = future
        try:
            with AgentInstantiationContext.populate_context((self._runtime, agent_id)):
                agent = await factory(agent_id)
            saved = await self._outbox.call("HGET", self._keys.state(agent_id.type), agent_id.key)
            if saved is not None:
                text = saved.decode() if isinstance(saved, bytes) else str(saved)
                await agent.load_state(json.loads(text))
                self._saved[agent_id] = text
            self.agents[agent_id] = agent
            future.set_result(agent)
            return agent
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it through shield
            raise
        finally:
            del self._activating[agent_id]

    async def state_command(self, agent_id: AgentId, agent: Agent) -> tuple[Any, ...] | None:
        """``HSET`` of the agent's state when it changed since it was last saved (None for
        agents without state of their own)."""
        if not _has_own_state(agent):
            return None
        try:
            state = await agent.save_state()
            text = json.dumps(dict(state), sort_keys=True, separators=(",", ":"))
        except Exception:
            logger.exception("agent %s: save_state failed; state not persisted", agent_id)
            return None
        if self._saved.get(agent_id) == text:
            return None
        self._saved[agent_id] = text
        return ("HSET", self._keys.state(agent_id.type), agent_id.key, text)

    # -- deactivation ----------------------------------------------------------------
    async def deactivate(
        self, partitions: set[Partition], *, busy: Callable[[AgentId], bool]
    ) -> list[AgentId]:
        """Close the agents of partitions given up, except pinned and ``busy`` ones; their
        state is re-read when they come back. Returns the agents closed."""
        closed: list[AgentId] = []
        for agent_id in list(self.agents):
            if agent_id in self._pinned or busy(agent_id):
                continue
            count = self._counts.cached(agent_id.type)
            if count and (agent_id.type, partition_of(agent_id.key, count)) in partitions:
                agent = self.agents.pop(agent_id)
                self._saved.pop(agent_id, None)
                closed.append(agent_id)
                try:
                    await agent.close()
                except Exception:
                    logger.exception("closing agent %s failed", agent_id)
        return closed

    async def close_all(self) -> None:
        agents, self.agents = self.agents, {}
        for agent in agents.values():
            await agent.close()


__all__ = ["AgentFactory", "HostedAgents"]
