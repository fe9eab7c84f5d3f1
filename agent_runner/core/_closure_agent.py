"""ClosureAgent: an agent defined by one async function."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, get_type_hints

from agent_runner.core._agent_id import AgentId
from agent_runner.core._agent_instantiation import AgentInstantiationContext
from agent_runner.core._agent_type import AgentType
from agent_runner.core._base_agent import BaseAgent, _bind_subscriptions
from agent_runner.core._cancellation_token import CancellationToken
from agent_runner.core._message_context import MessageContext
from agent_runner.core._message_handler import AnyType, get_types
from agent_runner.core._serialization import try_get_known_serializers_for_type
from agent_runner.core._subscription import Subscription
from agent_runner.core._topic import TopicId
from agent_runner.errors import CantHandleException

if TYPE_CHECKING:
    from agent_runner.core._message_runtime import MessageRuntime

T = TypeVar("T")


def get_handled_types_from_closure(closure: Callable[..., Awaitable[Any]]) -> Sequence[type]:
    """The message types a closure ``(ctx, message: T, msg_ctx) -> R`` accepts."""
    args = inspect.getfullargspec(closure)[0]
    if len(args) != 3:
        raise AssertionError("Closure must have 3 arguments")
    hints = get_type_hints(closure)
    if "return" not in hints:
        raise AssertionError("return not found in function signature")
    target_types = get_types(hints[args[1]])
    if target_types is None:
        raise AssertionError("Message type not found")
    if get_types(hints["return"]) is None:
        raise AssertionError("Return type not found")
    return target_types


class ClosureContext(Protocol):
    """What a closure agent's function can do: know its id, send and publish."""

    @property
    def id(self) -> AgentId: ...

    async def send_message(
        self,
        message: Any,
        recipient: AgentId,
        *,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
    ) -> Any: ...

    async def publish_message(
        self,
        message: Any,
        topic_id: TopicId,
        *,
        cancellation_token: CancellationToken | None = None,
    ) -> None: ...


class ClosureAgent(BaseAgent, ClosureContext):
    """An agent whose handler is one async function ``(ClosureContext, message, MessageContext)``.

    Create it with :meth:`register_closure`; it cannot be instantiated outside a runtime.

    Args:
        description: What the agent does.
        closure: The handler.
        unknown_type_policy: For a message of a type the closure does not accept: ``"error"``
            raises CantHandleException, ``"warn"`` warns and ignores, ``"ignore"`` calls the
            closure anyway.
    """

    def __init__(
        self,
        description: str,
        closure: Callable[[ClosureContext, T, MessageContext], Awaitable[Any]],
        *,
        unknown_type_policy: Literal["error", "warn", "ignore"] = "warn",
    ) -> None:
        try:
            runtime = AgentInstantiationContext.current_runtime()
            agent_id = AgentInstantiationContext.current_agent_id()
        except RuntimeError as e:
            raise RuntimeError(
                "ClosureAgent must be instantiated within the context of a runtime. "
                "It cannot be directly instantiated."
            ) from e
        self._runtime: MessageRuntime = runtime
        self._id: AgentId = agent_id
        self._expected_types = tuple(get_handled_types_from_closure(closure))
        self._closure = closure
        self._unknown_type_policy = unknown_type_policy
        super().__init__(description)

    async def on_message_impl(self, message: Any, ctx: MessageContext) -> Any:
        if type(message) not in self._expected_types and AnyType not in self._expected_types:
            if self._unknown_type_policy == "warn":
                warnings.warn(
                    f"Message type {type(message)} not in target types {self._expected_types} "
                    f"of {self.id}. Set unknown_type_policy to 'error' to raise an exception, "
                    "or 'ignore' to suppress this warning.",
                    stacklevel=1,
                )
                return None
            if self._unknown_type_policy == "error":
                raise CantHandleException(
                    f"Message type {type(message)} not in target types {self._expected_types} "
                    f"of {self.id}."
                )
        return await self._closure(self, message, ctx)

    async def save_state(self) -> Mapping[str, Any]:
        """Closure agents have no state: always ``{}``."""
        return {}

    async def load_state(self, state: Mapping[str, Any]) -> None:
        """Closure agents have no state: does nothing."""

    @classmethod
    async def register_closure(
        cls,
        runtime: MessageRuntime,
        type: str,
        closure: Callable[[ClosureContext, T, MessageContext], Awaitable[Any]],
        *,
        unknown_type_policy: Literal["error", "warn", "ignore"] = "warn",
        skip_direct_message_subscription: bool = False,
        description: str = "",
        subscriptions: Callable[[], list[Subscription] | Awaitable[list[Subscription]]]
        | None = None,
    ) -> AgentType:
        """Register an agent type whose instances run ``closure`` for every message.

        Example::

            results: asyncio.Queue[Result] = asyncio.Queue()

            async def collect(_ctx: ClosureContext, message: Result, ctx: MessageContext) -> None:
                await results.put(message)

            await ClosureAgent.register_closure(
                runtime, "collect", collect, subscriptions=lambda: [DefaultSubscription()]
            )
        """

        def factory() -> ClosureAgent:
            return ClosureAgent(
                description=description, closure=closure, unknown_type_policy=unknown_type_policy
            )

        agent_type = await cls.register(
            runtime,
            type,
            factory,
            skip_class_subscriptions=True,
            skip_direct_message_subscription=skip_direct_message_subscription,
        )
        if subscriptions is not None:
            for subscription in await _bind_subscriptions([subscriptions], agent_type):
                await runtime.add_subscription(subscription)
        for message_type in get_handled_types_from_closure(closure):
            runtime.add_message_serializer(try_get_known_serializers_for_type(message_type))
        return agent_type


__all__ = ["ClosureAgent", "ClosureContext", "get_handled_types_from_closure"]
