"""AgentType: the name under which a factory of agents is registered."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(eq=True, frozen=True)
class AgentType:
    """The type of an agent: the string an agent factory is registered under.

    Example::

        agent_type = await runtime.register_factory("worker", Worker)
        assert agent_type == AgentType("worker")
    """

    type: str
    """String representation of this agent type."""


__all__ = ["AgentType"]
