"""The ``message_handler`` / ``rpc`` / ``event`` decorators of RoutedAgent methods.

Each decorated method carries its routing data: the message types it takes, the types it
produces, and whether it takes RPCs, published messages or both (:class:`MessageHandler`).
:class:`RoutedAgent` builds its routing table from them.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Callable, Coroutine, Sequence
from functools import wraps
from typing import (
    Any,
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

from agent_runner.core._message_context import MessageContext
from agent_runner.errors import CantHandleException

logger = logging.getLogger(__name__)

AgentT = TypeVar("AgentT")
ReceivesT = TypeVar("ReceivesT")
ProducesT = TypeVar("ProducesT", covariant=True)

ANY: Literal["any"] = "any"
RPC: Literal["rpc"] = "rpc"
EVENT: Literal["event"] = "event"
Kind = Literal["any", "rpc", "event"]
"""Which messages a handler takes: both kinds, RPCs only, published messages only."""


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
    kind: Kind,
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
        if kind == EVENT:
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
        (kind == EVENT and set(return_types) <= {types.NoneType}) or produces is None
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
    if kind == RPC:
        handler.router = lambda m, c: c.is_rpc and (match(m, c) if match else True)
    elif kind == EVENT:
        handler.router = lambda m, c: (not c.is_rpc) and (match(m, c) if match else True)
    else:
        handler.router = match or (lambda _m, _c: True)
    wrapper_any = cast(Any, wrapper)
    wrapper_any._route = (kind, match, func, check_result if needs_check else None)
    return handler


def _decorate(
    func: HandlerFunc[AgentT, ReceivesT, Any] | None,
    kind: Kind,
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
    return _decorate(func, ANY, strict, match)


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
    return _decorate(func, EVENT, strict, match)


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
    return _decorate(func, RPC, strict, match)


Route = tuple[Kind, "Match[Any] | None", "HandlerFunc[Any, Any, Any]", Callable[[Any], None] | None]
"""What a decorated handler adds to its class's routing table: ``(kind, match, the undecorated
function, the check of its result or None)``."""


__all__ = [
    "ANY",
    "EVENT",
    "RPC",
    "AnyType",
    "HandlerFunc",
    "Kind",
    "Match",
    "MessageHandler",
    "Route",
    "event",
    "get_types",
    "message_handler",
    "rpc",
]
