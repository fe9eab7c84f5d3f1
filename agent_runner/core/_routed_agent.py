"""RoutedAgent: an agent that routes each message to a decorated handler method.

The handlers are the methods decorated with ``message_handler``, ``rpc`` or ``event``
(``_message_handler``); the routing table is built once per class.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ClassVar, cast

from agent_runner.core._base_agent import BaseAgent
from agent_runner.core._message_context import MessageContext
from agent_runner.core._message_handler import (
    EVENT,
    RPC,
    AnyType,
    HandlerFunc,
    MessageHandler,
    Route,
)
from agent_runner.core._serialization import MessageSerializer, try_get_known_serializers_for_type
from agent_runner.errors import CantHandleException

logger = logging.getLogger(__name__)

_WARNED: set[tuple[type[Any], type[Any]]] = set()
"""(agent class, message type) pairs already warned of an RPC only event handlers take."""


DirectRoute = tuple["HandlerFunc[Any, Any, Any]", Callable[[Any], None] | None]
"""A handler function and the check of its result (None: no check needed)."""


async def _checked(result: Coroutine[Any, Any, Any], check: Callable[[Any], None]) -> Any:
    value = await result
    check(value)
    return value


class RoutedAgent(BaseAgent):
    """An agent that routes each message to a decorated handler by the message's type (and
    the handler's ``match``). The routing table is built once per class.

    A message with no matching handler goes to :meth:`on_unhandled_message`: an RPC whose
    type has no handler raises :class:`~agent_runner.errors.CantHandleException` (the caller
    learns of it); an RPC whose type only ``@event`` handlers take returns None without
    calling them, as in autogen-core (logged at WARNING the first time per class and type,
    then at DEBUG); a published message nobody takes is logged and ignored.

    Attributes:
        strict_rpc_routing: Set ``strict_rpc_routing = True`` on a subclass to make an RPC
            that only ``@event`` handlers take raise CantHandleException as well.

    Example::

        class Worker(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("Worker agent")

            @rpc
            async def work(self, message: WorkRequest, ctx: MessageContext) -> WorkResponse:
                return WorkResponse(message.work_id, f"Processed: {message.data}")

        await Worker.register(runtime, "worker", Worker)
    """

    strict_rpc_routing: ClassVar[bool] = False

    _routes_by_type: ClassVar[dict[type[Any], tuple[Route, ...]] | None] = None
    _direct: ClassVar[dict[tuple[type[Any], bool], DirectRoute | None]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._routes_by_type = None
        cls._direct = {}

    def __init__(self, description: str) -> None:
        if type(self)._routes_by_type is None:
            type(self)._build_routes()
        super().__init__(description)

    @classmethod
    def _build_routes(cls) -> dict[type[Any], tuple[Route, ...]]:
        table: dict[type[Any], list[Route]] = {}
        for handler in cls._discover_handlers():
            route = cast(Any, handler)._route
            for target in handler.target_types:
                table.setdefault(target, []).append(route)
        routes = {key: tuple(value) for key, value in table.items()}
        cls._routes_by_type = routes
        return routes

    async def on_message_impl(self, message: Any, ctx: MessageContext) -> Any:
        """Route ``message`` to its handler. Do not override; add decorated handlers."""
        return await self.route_message(message, ctx)

    @classmethod
    def direct_handler(cls, message_type: type[Any], is_rpc: bool) -> DirectRoute | None:
        """``(handler, check)`` for messages of ``message_type`` (RPC or not) when the routing
        needs no ``match``, else None. Runtimes call ``handler(agent, message, ctx)`` and then
        ``check(result)`` (when not None) to skip routing on their hot path."""
        key = (message_type, is_rpc)
        try:
            return cls._direct[key]
        except KeyError:
            pass
        candidates = cls._routes_of(message_type)
        found: DirectRoute | None = None
        for kind, match, func, check in candidates:
            if (kind == RPC and not is_rpc) or (kind == EVENT and is_rpc):
                continue
            if match is None:
                found = (func, check)
            break
        if len(cls._direct) < 1024:
            cls._direct[key] = found
        return found

    def route_message(self, message: Any, ctx: MessageContext) -> Coroutine[Any, Any, Any]:
        """The coroutine of the handler that takes ``message`` (used by runtimes to skip one
        coroutine per message; :meth:`on_message_impl` awaits it)."""
        routes = self._routes_by_type
        if routes is None:
            routes = type(self)._build_routes()
        candidates = routes.get(type(message))
        if candidates is None:
            candidates = routes.get(AnyType)
        if candidates is not None:
            is_rpc = ctx.is_rpc
            for kind, match, func, check in candidates:
                if kind == RPC:
                    if not is_rpc:
                        continue
                elif kind == EVENT and is_rpc:
                    continue
                if match is not None and not match(message, ctx):
                    continue
                if check is None:
                    return func(self, message, ctx)
                return _checked(func(self, message, ctx), check)
        return self.on_unhandled_message(message, ctx)

    async def on_unhandled_message(self, message: Any, ctx: MessageContext) -> Any:
        """Called for a message no handler takes (see the class docstring). Override to
        change that."""
        if ctx.is_rpc:
            cls = type(self)
            if cls.strict_rpc_routing or not cls._only_events_take(type(message)):
                raise CantHandleException(
                    f"{cls.__name__} has no handler for RPC message type {type(message).__name__}"
                )
            key = (cls, type(message))
            if key in _WARNED:
                logger.debug(
                    "RPC %s to %s returns None: only @event handlers take this type",
                    type(message).__name__,
                    self.id,
                )
            else:
                if len(_WARNED) < 1024:
                    _WARNED.add(key)
                logger.warning(
                    "RPC %s to %s returns None: only @event handlers take this type (set "
                    "strict_rpc_routing = True on %s to raise CantHandleException instead)",
                    type(message).__name__,
                    self.id,
                    cls.__name__,
                )
            return None
        logger.info("Unhandled message: %r", message)
        return None

    @classmethod
    def _only_events_take(cls, message_type: type[Any]) -> bool:
        """Whether the handlers of ``message_type`` exist and are all ``@event`` handlers."""
        candidates = cls._routes_of(message_type)
        return bool(candidates) and all(kind == EVENT for kind, *_ in candidates)

    @classmethod
    def _routes_of(cls, message_type: type[Any]) -> tuple[Route, ...]:
        """The routes of ``message_type`` (those of ``Any`` handlers when it has none)."""
        routes = cls._routes_by_type
        if routes is None:
            routes = cls._build_routes()
        candidates = routes.get(message_type)
        return candidates if candidates is not None else routes.get(AnyType, ())

    @classmethod
    def _discover_handlers(cls) -> Sequence[MessageHandler[Any, Any, Any]]:
        handlers: list[MessageHandler[Any, Any, Any]] = []
        for attr in dir(cls):
            candidate = getattr(cls, attr, None)
            if callable(candidate) and hasattr(candidate, "is_message_handler"):
                handlers.append(cast(MessageHandler[Any, Any, Any], candidate))
        return handlers

    @classmethod
    def _handles_types(cls) -> list[tuple[type[Any], list[MessageSerializer[Any]]]]:
        found: list[tuple[type[Any], list[MessageSerializer[Any]]]] = list(
            cls.internal_extra_handles_types
        )
        seen: set[type[Any]] = set()
        for handler in cls._discover_handlers():
            for t in (*handler.target_types, *handler.produces_types):
                if t in seen:
                    continue
                seen.add(t)
                serializers = try_get_known_serializers_for_type(t)
                if serializers:
                    found.append((t, serializers))
        return found


__all__ = ["DirectRoute", "RoutedAgent"]
