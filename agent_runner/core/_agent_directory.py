"""AgentDirectory: the agent types, live instances and saved states of one runtime.

It creates agents on first use (through their factory, inside an
:class:`AgentInstantiationContext`), keeps the states of deactivated agents, and picks the
agents to deactivate when an idle timeout or a maximum count is configured.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from types import CoroutineType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from agent_runner.core._agent_id import AgentId
from agent_runner.core._agent_instantiation import AgentInstantiationContext
from agent_runner.core._agent_protocol import Agent
from agent_runner.core._agent_type import AgentType
from agent_runner.core._base_agent import BaseAgent
from agent_runner.errors import UndeliverableException, UnregisteredInstanceError

if TYPE_CHECKING:
    from agent_runner.core._message_runtime import MessageRuntime

logger = logging.getLogger("agent_runner.core")

T = TypeVar("T", bound=Agent)

Factory = Callable[[AgentId], Agent | Coroutine[Any, Any, Agent]]
"""Makes an agent: at once, or as a coroutine when the user's factory must be awaited."""


def checked_instance(agent: Agent, expected: type[T], agent_id: AgentId) -> T:
    """``agent`` when it is an ``expected``; TypeError otherwise."""
    if not isinstance(agent, expected):
        raise TypeError(
            f"Agent with name {agent_id.type} is not of type {expected.__name__}. "
            f"It is of type {agent.__class__.__name__}"
        )
    return agent


def _has_own_state(agent: Agent) -> bool:
    """Whether the agent implements save_state (BaseAgent's default only warns)."""
    return not (isinstance(agent, BaseAgent) and type(agent).save_state is BaseAgent.save_state)


class AgentDirectory:
    """:meta private: Agent types, instances and deactivated states of a runtime."""

    __slots__ = (
        "_activating",
        "_idle",
        "_instance_ids",
        "_instance_types",
        "_runtime",
        "agents",
        "factories",
        "idle_timeout",
        "max_active_agents",
        "saved",
        "tracks_idle",
    )

    def __init__(
        self,
        runtime: MessageRuntime,
        *,
        idle_timeout: float | None,
        max_active_agents: int | None,
    ) -> None:
        if idle_timeout is not None and idle_timeout <= 0:
            raise ValueError("idle_timeout must be positive")
        if max_active_agents is not None and max_active_agents < 1:
            raise ValueError("max_active_agents must be at least 1")
        self._runtime = runtime
        self.factories: dict[str, Factory] = {}
        self.agents: dict[AgentId, Agent] = {}
        self.saved: dict[AgentId, Mapping[str, Any]] = {}
        self._instance_types: dict[str, type[Agent]] = {}
        self._instance_ids: set[AgentId] = set()
        self._activating: dict[AgentId, list[asyncio.Future[Agent]]] = {}
        self.idle_timeout = idle_timeout
        self.max_active_agents = max_active_agents
        self.tracks_idle = idle_timeout is not None or max_active_agents is not None
        self._idle: dict[AgentId, float] = {}
        """Idle deactivatable agents, least recently used first, with the time they got idle."""

    # registration -------------------------------------------------------------------------

    def register_factory(
        self,
        type: str | AgentType,
        agent_factory: Callable[[], T | Awaitable[T]],
        expected_class: type[T] | None,
    ) -> AgentType:
        agent_type = AgentType(type) if isinstance(type, str) else type
        if agent_type.type in self.factories:
            raise ValueError(f"Agent with type {agent_type} already exists.")
        runtime = self._runtime
        try:
            arity = len(inspect.signature(agent_factory).parameters)
        except (TypeError, ValueError):  # no introspectable signature: call it without args
            arity = 0
        if arity not in (0, 2):
            raise ValueError("Agent factory must take 0 or 2 arguments.")
        context_var = AgentInstantiationContext._AGENT_INSTANTIATION_CONTEXT_VAR

        def checked(made: Any) -> Agent:
            if expected_class is not None and not isinstance(made, expected_class):
                raise ValueError(
                    f"Factory registered using the wrong type: expected "
                    f"{expected_class.__name__}, got {made.__class__.__name__}"
                )
            return cast(Agent, made)

        async def finish(agent_id: AgentId, made: Awaitable[Any]) -> Agent:
            token = context_var.set((runtime, agent_id))
            try:
                made = await made
            finally:
                context_var.reset(token)
            return checked(made)

        def create(agent_id: AgentId) -> Agent | Coroutine[Any, Any, Agent]:
            token = context_var.set((runtime, agent_id))
            try:
                if arity == 0:
                    made: Any = agent_factory()
                else:
                    warnings.warn(
                        "Agent factories that take two arguments are deprecated. "
                        "Use AgentInstantiationContext instead.",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                    made = cast(Callable[[Any, AgentId], Any], agent_factory)(runtime, agent_id)
            finally:
                context_var.reset(token)
            if hasattr(made, "__await__"):  # an async factory: its body runs when awaited
                return finish(agent_id, made)
            return checked(made)

        self.factories[agent_type.type] = create
        return agent_type

    async def register_instance(self, agent_instance: Agent, agent_id: AgentId) -> AgentId:
        if agent_id in self.agents:
            raise ValueError(f"Agent with id {agent_id} already exists.")
        known = self._instance_types.get(agent_id.type)
        if agent_id.type in self.factories and known is None:
            raise ValueError(
                "Agent factories and agent instances cannot be registered to the same type."
            )
        if known is not None and known is not type(agent_instance):
            raise ValueError("Agent instances must be the same object type.")
        await agent_instance.bind_id_and_runtime(id=agent_id, runtime=self._runtime)
        if known is None:
            self._instance_types[agent_id.type] = type(agent_instance)

            def no_factory(agent_id: AgentId) -> Agent:
                raise UnregisteredInstanceError(
                    f"No agent {agent_id}: type {agent_id.type!r} has only registered instances "
                    "(check the subscriptions that map topics to this type)."
                )

            self.factories[agent_id.type] = no_factory
        self.agents[agent_id] = agent_instance
        self._instance_ids.add(agent_id)
        return agent_id

    # lookup and activation ----------------------------------------------------------------

    def require_type(self, agent_id: AgentId) -> None:
        if agent_id.type not in self.factories:
            raise UndeliverableException(f"No agent type {agent_id.type!r} is registered")

    def activate(self, agent_id: AgentId) -> Agent | CoroutineType[Any, Any, Agent]:
        """The live agent, created now when its factory is synchronous and no saved state
        waits for it; otherwise a coroutine to await for it (as :meth:`get`).

        The hot path of a first message: a synchronous creation costs no coroutine."""
        agent = self.agents.get(agent_id)
        if agent is not None:
            return agent
        if agent_id in self._activating or agent_id in self.saved:
            return cast("CoroutineType[Any, Any, Agent]", self.get(agent_id))
        made = self._create(agent_id)
        if made.__class__ is CoroutineType:
            return cast("CoroutineType[Any, Any, Agent]", self._complete(agent_id, made))
        return self._activated(agent_id, cast(Agent, made))

    async def get(self, agent_id: AgentId) -> Agent:
        """The live agent, created (or reactivated with its saved state) when needed."""
        agent = self.agents.get(agent_id)
        if agent is not None:
            return agent
        waiters = self._activating.get(agent_id)
        if waiters is not None:  # someone else is creating it: wait for them
            waiter: asyncio.Future[Agent] = asyncio.get_running_loop().create_future()
            waiters.append(waiter)
            return await waiter
        return await self._complete(agent_id, self._create(agent_id))

    def _create(self, agent_id: AgentId) -> Agent | Coroutine[Any, Any, Agent]:
        factory = self.factories.get(agent_id.type)
        if factory is None:
            raise LookupError(f"Agent with name {agent_id.type} not found.")
        try:
            return factory(agent_id)
        except Exception:
            logger.error("Error constructing agent %s", agent_id, exc_info=True)
            raise

    async def _complete(self, agent_id: AgentId, made: Agent | Coroutine[Any, Any, Agent]) -> Agent:
        """Finish an activation that awaits (an async factory, a saved state to load); callers
        of :meth:`get` for the same agent meanwhile wait for it."""
        waiters: list[asyncio.Future[Agent]] = []
        self._activating[agent_id] = waiters
        try:
            if made.__class__ is CoroutineType:
                agent = await cast(Coroutine[Any, Any, Agent], made)
            else:
                agent = cast(Agent, made)
            state = self.saved.pop(agent_id, None)
            if state is not None:
                await agent.load_state(state)
        except BaseException as e:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(e)
            logger.error("Error constructing agent %s", agent_id, exc_info=True)
            raise
        finally:
            del self._activating[agent_id]
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(agent)
        return self._activated(agent_id, agent)

    def _activated(self, agent_id: AgentId, agent: Agent) -> Agent:
        self.agents[agent_id] = agent
        if self.tracks_idle:
            self._idle[agent_id] = time.monotonic()
        return agent

    async def save_all(self) -> dict[str, Any]:
        """Every agent's state by ``str(agent_id)``: live agents' current state, deactivated
        agents' saved one."""
        state: dict[str, Any] = {str(k): dict(v) for k, v in self.saved.items()}
        for agent_id, agent in list(self.agents.items()):
            state[str(agent_id)] = dict(await agent.save_state())
        return state

    # deactivation -------------------------------------------------------------------------

    def mark_idle(self, agent_id: AgentId) -> None:
        """Record that ``agent_id`` has no more work (most recently used goes last)."""
        if agent_id in self._instance_ids or agent_id not in self.agents:
            return
        idle = self._idle
        idle.pop(agent_id, None)
        idle[agent_id] = time.monotonic()

    def over_capacity(self) -> bool:
        return self.max_active_agents is not None and len(self.agents) > self.max_active_agents

    def pick_victims(self, is_busy: Callable[[AgentId], bool], now: float) -> list[AgentId]:
        """Idle agents to deactivate now: expired ones, then the least recently used ones
        while there are more live agents than ``max_active_agents``."""
        over = 0
        if self.max_active_agents is not None:
            over = len(self.agents) - self.max_active_agents
        timeout = self.idle_timeout
        seen: list[AgentId] = []
        victims: list[AgentId] = []
        for agent_id, since in self._idle.items():
            expired = timeout is not None and now - since >= timeout
            if not expired and over <= 0:
                break
            seen.append(agent_id)
            if is_busy(agent_id) or agent_id not in self.agents:
                continue  # re-marked idle when its mailbox empties
            victims.append(agent_id)
            over -= 1
        for agent_id in seen:
            del self._idle[agent_id]
        return victims

    async def deactivate(self, agent_id: AgentId) -> None:
        """Save the agent's state, release it and close it (its next message reactivates it)."""
        agent = self.agents.get(agent_id)
        if agent is None or agent_id in self._instance_ids:
            return
        try:
            if _has_own_state(agent):
                self.saved[agent_id] = dict(await agent.save_state())
        except Exception:
            logger.exception("Could not save the state of %s; it stays active", agent_id)
            return
        del self.agents[agent_id]
        try:
            await agent.close()
        except Exception:
            logger.exception("Error closing deactivated agent %s", agent_id)
