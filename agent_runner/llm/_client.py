"""The model client contract: :class:`ModelClient` and the values it exchanges.

A model client turns a list of :class:`ChatMessage` (and the tools the model may call) into
one :class:`Completion`: text, tool calls, or both, always with the :class:`Usage` the
endpoint reported (or an estimate when it reported none). ``OpenAIClient`` speaks the
OpenAI chat-completions protocol; ``ScriptedModelClient`` replays a script for tests.

::

    completion = await client.complete(
        [ChatMessage.system("Be brief."), ChatMessage.user("What is 2 + 2?")],
        tools=[add.definition],
    )
    completion.content, completion.tool_calls, completion.usage.input_tokens
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

ChatRole = Literal["system", "user", "assistant", "tool"]
ToolChoice = Literal["auto", "none", "required"]
TextCallback = Callable[[str], Awaitable[None]]
"""Called with each piece of the answer's text as the model writes it (streaming)."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asks to run tool ``name`` with ``arguments`` (a JSON object, as text).

    ``arguments`` is kept as the raw text the model wrote: it may be invalid JSON, which the
    agent reports back to the model instead of crashing.
    """

    id: str
    name: str
    arguments: str = "{}"

    @classmethod
    def of(
        cls, name: str, arguments: Mapping[str, Any] | None = None, *, id: str | None = None
    ) -> ToolCall:
        """Build a call from a mapping (for scripts and tests).

        Example:
            >>> ToolCall.of("add", {"a": 1, "b": 2}, id="call_1")
            ToolCall(id='call_1', name='add', arguments='{"a": 1, "b": 2}')
        """
        return cls(
            id=id or f"call_{uuid.uuid4().hex[:16]}",
            name=name,
            arguments=json.dumps(dict(arguments or {})),
        )


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a chat prompt.

    ``tool_calls`` is set on assistant messages that called tools; ``tool_call_id`` on the
    ``tool`` message that answers one of those calls. ``images`` are image URLs (``https:``
    or base64 ``data:``) a user message shows a model that accepts images.
    """

    role: ChatRole
    content: str | None = None
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    images: tuple[str, ...] = ()

    @classmethod
    def system(cls, text: str) -> ChatMessage:
        return cls(role="system", content=text)

    @classmethod
    def user(cls, text: str, *, name: str | None = None, images: Sequence[str] = ()) -> ChatMessage:
        return cls(role="user", content=text, name=name, images=tuple(images))

    @classmethod
    def assistant(
        cls, text: str | None, *, tool_calls: Sequence[ToolCall] = (), name: str | None = None
    ) -> ChatMessage:
        return cls(role="assistant", content=text, tool_calls=tuple(tool_calls), name=name)

    @classmethod
    def tool(cls, call_id: str, text: str, *, name: str | None = None) -> ChatMessage:
        return cls(role="tool", content=text, tool_call_id=call_id, name=name)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one model call used. ``estimated`` is true when the endpoint reported none."""

    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            estimated=self.estimated or other.estimated,
        )


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """What the model is told about a tool: its name, description and JSON-schema parameters."""

    name: str
    description: str
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


@dataclass(frozen=True, slots=True)
class Completion:
    """One model answer: text, tool calls (possibly several, to run in parallel), usage."""

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """What a client was asked for (``ScriptedModelClient.requests`` records these)."""

    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolDefinition, ...] = ()
    tool_choice: ToolChoice | None = None
    max_output_tokens: int | None = None
    stream: bool = False


@runtime_checkable
class ModelClient(Protocol):
    """A chat model endpoint.

    Implementations retry transient failures themselves (with a cap) and raise
    :class:`~agent_runner.errors.ModelClientError` when they give up.
    """

    @property
    def model(self) -> str:
        """The model's name, as sent to the endpoint (and used for pricing by default)."""
        ...

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolDefinition] = (),
        tool_choice: ToolChoice | None = None,
        max_output_tokens: int | None = None,
        on_text: TextCallback | None = None,
    ) -> Completion:
        """Ask the model for the next message.

        Args:
            messages: the prompt, oldest first.
            tools: the tools the model may call.
            tool_choice: ``"none"`` forbids tool calls for this answer; None lets the model
                decide.
            max_output_tokens: the most tokens the answer may use.
            on_text: when given, the answer is streamed and each piece of text is passed to
                it as it arrives; the returned Completion still holds the whole answer.
        """
        ...

    async def close(self) -> None:
        """Release connections. Safe to call twice."""
        ...


__all__ = [
    "ChatMessage",
    "ChatRole",
    "Completion",
    "ModelClient",
    "ModelRequest",
    "TextCallback",
    "ToolCall",
    "ToolChoice",
    "ToolDefinition",
    "Usage",
]
