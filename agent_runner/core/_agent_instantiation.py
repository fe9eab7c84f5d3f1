"""AgentInstantiationContext: the runtime and id of the agent a factory is creating."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar

from agent_runner.core._agent_id import AgentId

if TYPE_CHECKING:
    from agent_runner.core._message_runtime import MessageRuntime


class AgentInstantiationContext:
    """Static access, inside an agent factory or constructor, to the runtime and the id of
    the agent being created.

    Example::

        def make_worker() -> Worker:
            agent_id = AgentInstantiationContext.current_agent_id()
            return Worker(f"worker {agent_id.key}")

        await Worker.register(runtime, "worker", make_worker)
    """

    _AGENT_INSTANTIATION_CONTEXT_VAR: ClassVar[ContextVar[tuple[MessageRuntime, AgentId]]] = (
        ContextVar("agent_runner_core_agent_instantiation")
    )

    def __init__(self) -> None:
        raise RuntimeError(
            "AgentInstantiationContext cannot be instantiated. It is a static class that "
            "provides context management for agent instantiation."
        )

    @classmethod
    @contextmanager
    def populate_context(cls, ctx: tuple[MessageRuntime, AgentId]) -> Generator[None, Any, None]:
        """:meta private:"""
        token = cls._AGENT_INSTANTIATION_CONTEXT_VAR.set(ctx)
        try:
            yield
        finally:
            cls._AGENT_INSTANTIATION_CONTEXT_VAR.reset(token)

    @classmethod
    def current_runtime(cls) -> MessageRuntime:
        """The runtime creating the agent; RuntimeError outside a factory call."""
        try:
            return cls._AGENT_INSTANTIATION_CONTEXT_VAR.get()[0]
        except LookupError as e:
            raise RuntimeError(
                "AgentInstantiationContext.current_runtime() must be called while a runtime "
                "creates an agent (inside its factory). Create agents through the runtime."
            ) from e

    @classmethod
    def current_agent_id(cls) -> AgentId:
        """The id of the agent being created; RuntimeError outside a factory call."""
        try:
            return cls._AGENT_INSTANTIATION_CONTEXT_VAR.get()[1]
        except LookupError as e:
            raise RuntimeError(
                "AgentInstantiationContext.current_agent_id() must be called while a runtime "
                "creates an agent (inside its factory). Create agents through the runtime."
            ) from e

    @classmethod
    def is_in_factory_call(cls) -> bool:
        """Whether a runtime is creating an agent in this context."""
        return cls._AGENT_INSTANTIATION_CONTEXT_VAR.get(None) is not None


__all__ = ["AgentInstantiationContext"]
