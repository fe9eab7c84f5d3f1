"""RoutedAgent and the ``message_handler`` / ``rpc`` / ``event`` decorators."""

from __future__ import annotations

import logging
import types
from collections.abc import Callable, Coroutine, Sequence
from functools import wraps
from typing import (
    Any,
    ClassVar,
    Literal,
    Protocol,
    TypeVar,
    Union,
    cast,
    get_args,
    get_origin,
    get_type_hints,
    overload,
    runtime_checkable,
)

from agent_runner.core._base_agent import BaseAgent
from agent_runner.core._message_context import MessageContext
from agent_runner.core._serialization import MessageSerializer, try_get_known_serializers_for_type
from agent_runner.errors import CantHandleException

logger = logging.getLogger(__name__)

AgentT = TypeVar("AgentT")
ReceivesT = TypeVar("ReceivesT")
ProducesT = TypeVar("ProducesT", covariant=True)

_ANY: Literal["any"] = "any"
_RPC: Literal["rpc"] = "rpc"
_EVENT: Literal["event"] = "event"
_Kind = Literal["any", "rpc", "event"]


class AnyType:
    """Marker for handlers typed with ``Any``."""


def get_types(t: object) -> Sequence[type[Any]] | None:
    """The concrete types of an annotation (a Union gives several), or None if not a type."""
    origin = get_origin(t)
    if origin is Union or origin is types.UnionType:
        return get_args(t)
    if t is Any:
        return (AnyType,)
    if t is None or t is types.NoneType:
        return (types.NoneType,)
    if isinstance(t, type):
        return (t,)
    if isinstance(origin, type):  # list[str], dict[str, int], ...: check the container type
        return (origin,)
    return None


@runtime_checkable
class MessageHandler(Protocol[AgentT, ReceivesT, ProducesT]):  # type: ignore[misc]
    """A decorated handler method, with its routing data."""

    target_types: Sequence[type]
    produces_types: Sequence[type]
    is_message_handler: Literal[True]
    router: Callable[[ReceivesT, MessageContext], bool]

    @staticmethod
    async def __call__(
        agent_instance: AgentT, message: ReceivesT, ctx: MessageContext
    ) -> ProducesT: ...


HandlerFunc = Callable[[AgentT, ReceivesT, MessageContext], Coroutine[Any, Any, ProducesT]]
Match = Callable[[ReceivesT, MessageContext], bool]


def _make_handler(
    func: HandlerFunc[AgentT, ReceivesT, Any],
    kind: _Kind,
    strict: bool,
    match: Match[ReceivesT] | None,
) -> MessageHandler[AgentT, ReceivesT, Any]:
    hints = get_type_hints(func)
    if "message" not in hints:
        raise AssertionError("message parameter not found in function signature")
    if "return" not in hints:
        raise AssertionError("return parameter not found in function signature")
    target_types = get_types(hints["message"])
    if target_types is None:
        raise AssertionError("Message type not found")
    return_types = get_types(hints["return"])
    if return_types is None:
        raise AssertionError("Return type not found")
    produces = None if AnyType in return_types else frozenset(return_types)
    targets = frozenset(target_types)

    def check_result(result: Any) -> None:
        if kind == _EVENT:
            bad = result is not None
        else:
            bad = produces is not None and type(result) not in produces
        if bad:
            text = f"Return type {type(result)} not in return types {return_types}"
            if strict:
                raise ValueError(text)
            logger.warning(text)

    # An event annotated ``-> None`` or a handler annotated ``-> Any`` needs no check at run
    # time: the router then hands the handler's own coroutine to the runtime.
    needs_check = not (
        (kind == _EVENT and set(return_types) <= {types.NoneType}) or produces is None
    )

    @wraps(func)
    async def wrapper(self: AgentT, message: ReceivesT, ctx: MessageContext) -> Any:
        if type(message) not in targets and AnyType not in targets:
            text = f"Message type {type(message)} not in target types {target_types}"
            if strict:
                raise CantHandleException(text)
            logger.warning(text)
        result = await func(self, message, ctx)
        check_result(result)
        return result

    handler = cast(MessageHandler[AgentT, ReceivesT, Any], wrapper)
    handler.target_types = list(target_types)
    handler.produces_types = list(return_types)
    handler.is_message_handler = True
    if kind == _RPC:
        handler.router = lambda m, c: c.is_rpc and (match(m, c) if match else True)
    elif kind == _EVENT:
        handler.router = lambda m, c: (not c.is_rpc) and (match(m, c) if match else True)
    else:
        handler.router = match or (lambda _m, _c: True)
    wrapper_any = cast(Any, wrapper)
    wrapper_any._route = (kind, match, func, check_result if needs_check else None)
    return handler


def _decorate(
    func: HandlerFunc[AgentT, ReceivesT, Any] | None,
    kind: _Kind,
    strict: bool,
    match: Match[ReceivesT] | None,
) -> Any:
    if func is None:
        return lambda f: _make_handler(f, kind, strict, match)
    if callable(func):
        return _make_handler(func, kind, strict, match)
    raise ValueError("Invalid arguments")


@overload
def message_handler(
    func: HandlerFunc[AgentT, ReceivesT, ProducesT],
) -> MessageHandler[AgentT, ReceivesT, ProducesT]: ...


@overload
def message_handler(
    func: None = None, *, match: Match[ReceivesT] | None = ..., strict: bool = ...
) -> Callable[
    [HandlerFunc[AgentT, ReceivesT, ProducesT]], MessageHandler[AgentT, ReceivesT, ProducesT]
]: ...


def message_handler(
    func: HandlerFunc[AgentT, ReceivesT, ProducesT] | None = None,
    *,
    strict: bool = True,
    match: Match[ReceivesT] | None = None,
) -> Any:
    """Mark a :class:`RoutedAgent` method as the handler of its ``message`` type (RPCs and
    events alike).

    The method is ``async def name(self, message: T, ctx: MessageContext) -> R``; a Union
    annotation handles several types. Handlers match the exact type of the message.

    Args:
        func: The method (when used without parentheses).
        strict: Raise (CantHandleException / ValueError) on an unexpected message or return
            type; when False, log a warning instead.
        match: A second-level router ``(message, ctx) -> bool``. Handlers of the same type are
            tried in alphabetical order of their names; the first that matches runs.

    Example::

        class Echo(RoutedAgent):
            @message_handler
            async def on_text(self, message: Text, ctx: MessageContext) -> Text:
                return message
    """
    return _decorate(func, _ANY, strict, match)


@overload
def event(
    func: HandlerFunc[AgentT, ReceivesT, None],
) -> MessageHandler[AgentT, ReceivesT, None]: ...


@overload
def event(
    func: None = None, *, match: Match[ReceivesT] | None = ..., strict: bool = ...
) -> Callable[[HandlerFunc[AgentT, ReceivesT, None]], MessageHandler[AgentT, ReceivesT, None]]: ...


def event(
    func: HandlerFunc[AgentT, ReceivesT, None] | None = None,
    *,
    strict: bool = True,
    match: Match[ReceivesT] | None = None,
) -> Any:
    """Like :func:`message_handler`, for published messages only; the method returns None.

    Example::

        class Monitor(RoutedAgent):
            @event(match=lambda message, ctx: message.progress >= 1.0)
            async def on_done(self, message: Progress, ctx: MessageContext) -> None:
                self.done.append(message.work_id)
    """
    return _decorate(func, _EVENT, strict, match)


@overload
def rpc(
    func: HandlerFunc[AgentT, ReceivesT, ProducesT],
) -> MessageHandler[AgentT, ReceivesT, ProducesT]: ...


@overload
def rpc(
    func: None = None, *, match: Match[ReceivesT] | None = ..., strict: bool = ...
) -> Callable[
    [HandlerFunc[AgentT, ReceivesT, ProducesT]], MessageHandler[AgentT, ReceivesT, ProducesT]
]: ...


def rpc(
    func: HandlerFunc[AgentT, ReceivesT, ProducesT] | None = None,
    *,
    strict: bool = True,
    match: Match[ReceivesT] | None = None,
) -> Any:
    """Like :func:`message_handler`, for direct messages (``send_message``) only.

    Example::

        class Worker(RoutedAgent):
            @rpc
            async def on_work(self, message: Work, ctx: MessageContext) -> Done:
                return Done(message.work_id)
    """
    return _decorate(func, _RPC, strict, match)


_Route = tuple[
    _Kind, "Match[Any] | None", "HandlerFunc[Any, Any, Any]", Callable[[Any], None] | None
]


DirectRoute = tuple["HandlerFunc[Any, Any, Any]", Callable[[Any], None] | None]
"""A handler function and the check of its result (None: no check needed)."""


async def _checked(result: Coroutine[Any, Any, Any], check: Callable[[Any], None]) -> Any:
    value = await result
    check(value)
    return value


class RoutedAgent(BaseAgent):
    """An agent that routes each message to a decorated handler by the message's type (and
    the handler's ``match``). The routing table is built once per class.

    A message with no matching handler goes to :meth:`on_unhandled_message`, which raises
    :class:`~agent_runner.errors.CantHandleException` for an RPC (the caller learns of it)
    and logs events.

    Example::

        class Worker(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("Worker agent")

            @rpc
            async def work(self, message: WorkRequest, ctx: MessageContext) -> WorkResponse:
                return WorkResponse(message.work_id, f"Processed: {message.data}")

        await Worker.register(runtime, "worker", Worker)
    """

    _routes_by_type: ClassVar[dict[type[Any], tuple[_Route, ...]] | None] = None
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
    def _build_routes(cls) -> dict[type[Any], tuple[_Route, ...]]:
        table: dict[type[Any], list[_Route]] = {}
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
        routes = cls._routes_by_type
        if routes is None:
            routes = cls._build_routes()
        candidates = routes.get(message_type)
        if candidates is None:
            candidates = routes.get(AnyType, ())
        found: DirectRoute | None = None
        for kind, match, func, check in candidates:
            if (kind == _RPC and not is_rpc) or (kind == _EVENT and is_rpc):
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
                if kind == _RPC:
                    if not is_rpc:
                        continue
                elif kind == _EVENT and is_rpc:
                    continue
                if match is not None and not match(message, ctx):
                    continue
                if check is None:
                    return func(self, message, ctx)
                return _checked(func(self, message, ctx), check)
        return self.on_unhandled_message(message, ctx)

    async def on_unhandled_message(self, message: Any, ctx: MessageContext) -> Any:
        """Called for a message no handler takes: raises CantHandleException for an RPC,
        logs and ignores an event. Override to change that."""
        if ctx.is_rpc:
            raise CantHandleException(
                f"{type(self).__name__} has no handler for RPC message type "
                f"{type(message).__name__}"
            )
        logger.info("Unhandled message: %r", message)
        return None

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


__all__ = ["MessageHandler", "RoutedAgent", "event", "get_types", "message_handler", "rpc"]
