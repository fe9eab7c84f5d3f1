"""The spans of one message's way through the runner: one trace per message.

::

    receive {source}                 the input hands the message over (root, or the
    ├── journal write                caller's child when it sent a traceparent)
    ├── conversation turn            the conversation actor, wherever it runs
    │   └── invoke_agent {agent}     the user's agent
    │       ├── chat {model}         every model call (GenAI semantic conventions)
    │       └── execute_tool {name}  every tool call
    └── send {output}                every reply sent, per output

Each helper returns :data:`~agent_runner.tracing.spans.OFF` (or its argument unchanged) while
tracing is off. Message text is recorded only when the operator opts in
(``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from agent_runner.tracing import spans

if TYPE_CHECKING:
    from agent_runner.message import Message

T = TypeVar("T")

MESSAGING_SYSTEM = "agent_runner"


def _message_attributes(message: Message) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "messaging.system": MESSAGING_SYSTEM,
        "messaging.message.id": message.key,
        "messaging.message.conversation_id": message.conversation_key,
        "agent_runner.source": message.source,
    }
    if spans.capture_content():
        attributes["agent_runner.message.text"] = message.text
    return attributes


def receive(message: Message) -> AbstractContextManager[Any]:
    """The root span of ``message``: from the input's hand-over until it is journaled."""
    if not spans.active():
        return spans.OFF
    attributes = _message_attributes(message)
    attributes["messaging.operation.type"] = "receive"
    attributes["messaging.destination.name"] = message.source
    return spans.span(f"receive {message.source}", attributes, kind="consumer")


def journal_write(write: Awaitable[T]) -> Awaitable[T]:
    """``write`` (the journal's accept) inside a ``journal write`` span when tracing is on."""
    if not spans.active():
        return write
    return _journal_write(write)


async def _journal_write(write: Awaitable[T]) -> T:
    with spans.span("journal write", {"db.operation.name": "journal_accept"}):
        return await write


def turn(message: Message, trace: Mapping[str, str] | None) -> AbstractContextManager[Any]:
    """The conversation turn of ``message``, continuing ``trace`` (the sender's headers)."""
    if not spans.active():
        return spans.OFF
    attributes = _message_attributes(message)
    return spans.span("conversation turn", attributes, parent=spans.extract(trace))


def _agent_name(agent: object) -> str:
    """An agent's name: its class for an ``Agent``'s bound ``execute``, else the function's."""
    owner = getattr(agent, "__self__", None)
    if owner is not None:
        return type(owner).__name__
    return str(getattr(agent, "__name__", type(agent).__name__))


def invoke_agent(message: Message, agent: object) -> AbstractContextManager[Any]:
    """The user's ``agent`` handling ``message`` (``invoke_agent {name}``, GenAI conventions)."""
    if not spans.active():
        return spans.OFF
    agent_name = _agent_name(agent)
    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": agent_name,
        "gen_ai.conversation.id": message.conversation_key,
    }
    return spans.span(f"invoke_agent {agent_name}", attributes)


def send(message: Message, output: str, index: int) -> AbstractContextManager[Any]:
    """Sending reply ``index`` of ``message`` to ``output`` (retries included)."""
    if not spans.active():
        return spans.OFF
    attributes = {
        "messaging.system": MESSAGING_SYSTEM,
        "messaging.operation.type": "send",
        "messaging.destination.name": output,
        "messaging.message.id": f"{message.key}#{index}",
    }
    return spans.span(f"send {output}", attributes, kind="producer")


__all__ = ["MESSAGING_SYSTEM", "invoke_agent", "journal_write", "receive", "send", "turn"]
