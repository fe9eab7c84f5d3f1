"""SubscriptionInstantiationContext: the agent type whose subscriptions are being created."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar

from agent_runner.core._agent_type import AgentType


class SubscriptionInstantiationContext:
    """Static access to the agent type being registered, while its class subscriptions are
    created (used by :class:`DefaultSubscription` to find its agent type)."""

    _SUBSCRIPTION_CONTEXT_VAR: ClassVar[ContextVar[AgentType]] = ContextVar(
        "agent_runner_core_subscription_context"
    )

    def __init__(self) -> None:
        raise RuntimeError(
            "SubscriptionInstantiationContext cannot be instantiated. It is a static class."
        )

    @classmethod
    @contextmanager
    def populate_context(cls, ctx: AgentType) -> Generator[None, Any, None]:
        """:meta private:"""
        token = cls._SUBSCRIPTION_CONTEXT_VAR.set(ctx)
        try:
            yield
        finally:
            cls._SUBSCRIPTION_CONTEXT_VAR.reset(token)

    @classmethod
    def agent_type(cls) -> AgentType:
        """The agent type being registered; RuntimeError outside registration."""
        try:
            return cls._SUBSCRIPTION_CONTEXT_VAR.get()
        except LookupError as e:
            raise RuntimeError(
                "SubscriptionInstantiationContext.agent_type() must be called while an agent "
                "type's subscriptions are created (inside register())."
            ) from e


__all__ = ["SubscriptionInstantiationContext"]
