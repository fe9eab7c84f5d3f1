"""What the runner runs: an :class:`Agent` (or an async function) and its :class:`AgentContext`.

::

    class Echo:
        async def execute(self, message: Message, context: AgentContext) -> str:
            earlier = context.memory.messages          # this conversation only
            return f"you said {message.text!r} ({len(earlier)} earlier messages)"

    async def echo(message: Message, context: AgentContext) -> str:   # also accepted
        return message.text

An agent returns a ``str``, a :class:`~agent_runner.message.Reply`, a sequence of them
(several replies, delivered in order) or ``None`` (no reply).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agent_runner.media import MediaFetcher
from agent_runner.message import Message, Reply
from agent_runner.store import MemoryItem, Role

if TYPE_CHECKING:
    from agent_runner.core import MessageRuntime
    from agent_runner.store import Store

AgentResult = str | Reply | Sequence[str | Reply] | None
"""What an agent may return."""


@runtime_checkable
class ConversationMemory(Protocol):
    """The short-term memory of one conversation (never shared across conversations).

    ``messages`` holds the earlier turns (oldest first, bounded by count and tokens), not the
    message being handled. The runner appends the incoming message and the agent's replies
    after each turn; ``add`` lets an agent remember something else (a tool result, a note).
    """

    @property
    def conversation_key(self) -> str: ...

    @property
    def messages(self) -> Sequence[MemoryItem]: ...

    async def add(
        self,
        role: Role,
        text: str,
        *,
        name: str | None = None,
        message_key: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Remember a turn; ``message_key`` ties it to the message it belongs to, ``meta``
        keeps extra JSON values with it (the turn's attachments)."""
        ...


@runtime_checkable
class CostMeter(Protocol):
    """Prices token usage and enforces budgets for the current request.

    Call :meth:`check` before spending (an LLM call) with the most it may cost; it raises
    :class:`~agent_runner.errors.BudgetExceededError` when any budget (per conversation, per
    day, total) would be exceeded. Call :meth:`record` after, with the usage reported.
    """

    async def check(
        self, model: str, *, input_tokens: int = 0, max_output_tokens: int = 0
    ) -> None: ...

    async def record(self, model: str, *, input_tokens: int, output_tokens: int) -> float:
        """Price the usage, record it per request, conversation and day; return the cost."""
        ...

    @property
    def spent(self) -> float:
        """What this request has cost so far."""
        ...


@dataclass(slots=True)
class AgentContext:
    """Everything an agent gets besides the message.

    Attributes:
        memory: this conversation's short-term memory.
        cost: the cost meter for this request (a no-op meter when pricing is off).
        runtime: the core message runtime, to talk to other agents.
        logger: a logger that tags lines with the message key.
        store: the runner's store (cursors, state), for agents that need it.
        streaming: true when the message's output can show a reply as it is written.
        merged: earlier messages of this conversation handed to this turn together with
            ``message`` (double texting ``merge`` or ``interrupt``), oldest first; they are
            already in ``memory``.
        media: downloads the message's attachments on demand
            (``await context.media.fetch(attachment)``), with the platform's auth, through
            the outbound guard and under the media limits.
    """

    message: Message
    memory: ConversationMemory
    cost: CostMeter
    runtime: MessageRuntime
    logger: logging.LoggerAdapter[logging.Logger]
    store: Store
    streaming: bool = False
    merged: tuple[Message, ...] = ()
    media: MediaFetcher = field(default_factory=MediaFetcher)
    _stream: Callable[[str], Awaitable[None]] | None = None

    async def stream(self, chunk: str) -> None:
        """Show ``chunk`` of the reply now, where the output supports it (else a no-op)."""
        if self._stream is not None and chunk:
            await self._stream(chunk)


@runtime_checkable
class Agent(Protocol):
    """The runner's agent: handles one message of one conversation at a time."""

    async def execute(self, message: Message, context: AgentContext) -> AgentResult: ...


AgentFunction = Callable[[Message, AgentContext], Awaitable[AgentResult]]
"""A plain async function is accepted wherever an Agent is."""


def normalize_result(result: AgentResult) -> list[Reply]:
    """Turn what an agent returned into a list of Replies (empty ones dropped)."""
    if result is None:
        return []
    if isinstance(result, str | Reply):
        result = [result]
    replies: list[Reply] = []
    for item in result:
        if isinstance(item, str):
            if item.strip():
                replies.append(Reply(text=item))
        elif isinstance(item, Reply):
            if item.text.strip() or item.attachments or item.files:
                replies.append(item)
        else:
            raise TypeError(
                f"an agent must return str, Reply, a list of them or None, "
                f"not {type(item).__name__}"
            )
    return replies


__all__ = [
    "Agent",
    "AgentContext",
    "AgentFunction",
    "AgentResult",
    "ConversationMemory",
    "CostMeter",
    "normalize_result",
]
