"""How the single-threaded runtime calls an agent: the shortest path to its handler.

``BaseAgent.on_message`` is final and only awaits ``on_message_impl``, and RoutedAgent's
``on_message_impl`` only awaits ``route_message``: the runtime skips those coroutines, and for
a RoutedAgent whose routing needs no ``match`` it calls the handler function itself
(:meth:`RoutedAgent.direct_handler`). What a class allows is worked out once per class.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeGuard, cast

from agent_runner.core._agent_protocol import Agent
from agent_runner.core._base_agent import BaseAgent
from agent_runner.core._routed_agent import RoutedAgent

Handler = Callable[[Any, Any], Awaitable[Any]]
"""``handler(message, ctx)``: what a turn awaits."""

_TRAITS: dict[type, tuple[type[RoutedAgent] | None, bool]] = {}


def _routes_like_routed_agent(cls: type[Agent]) -> TypeGuard[type[RoutedAgent]]:
    """A RoutedAgent subclass that overrides neither routing method."""
    return (
        issubclass(cls, RoutedAgent)
        and cls.on_message_impl is RoutedAgent.on_message_impl
        and cls.route_message is RoutedAgent.route_message
    )


def class_traits(cls: type[Agent]) -> tuple[type[RoutedAgent] | None, bool]:
    """``(the class if it routes like RoutedAgent, whether it handles concurrently)``."""
    traits = _TRAITS.get(cls)
    if traits is None:
        routed = cls if _routes_like_routed_agent(cls) else None
        traits = (routed, bool(getattr(cls, "concurrent_handling", False)))
        if len(_TRAITS) < 4096:
            _TRAITS[cls] = traits
    return traits


def handler_of(agent: Agent) -> Handler:
    """The callable a turn awaits for ``agent`` (its routing, its impl, or its on_message)."""
    if class_traits(type(agent))[0] is not None:
        return cast(RoutedAgent, agent).route_message
    if isinstance(agent, BaseAgent):
        return agent.on_message_impl
    return agent.on_message


__all__ = ["Handler", "class_traits", "handler_of"]
