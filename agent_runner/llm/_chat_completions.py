"""The chat-completions wire format, both ways: our messages and tools to request fields, and
the SDK's responses and streamed chunks back to a :class:`~agent_runner.llm.Completion`.

Pure functions over the ``openai`` SDK's objects (read by attribute, so this module does not
import the SDK); :class:`~agent_runner.llm.OpenAIClient` sends and retries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_runner.llm._client import ChatMessage, Completion, ToolCall, ToolDefinition, Usage
from agent_runner.llm._estimate import estimate_completion_tokens, estimate_prompt_tokens


def to_openai_message(message: ChatMessage) -> dict[str, Any]:
    """A ChatMessage in the chat-completions wire format."""
    data: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.images:
        text = [{"type": "text", "text": message.content}] if message.content else []
        images = [{"type": "image_url", "image_url": {"url": url}} for url in message.images]
        data["content"] = [*text, *images]
    if message.role == "assistant" and message.tool_calls:
        data["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
    if message.role == "tool":
        data["tool_call_id"] = message.tool_call_id
        if data["content"] is None:
            data["content"] = ""
    elif message.name:
        data["name"] = message.name
    return data


def to_openai_tool(tool: ToolDefinition) -> dict[str, Any]:
    """A tool's schema in the chat-completions wire format."""
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": dict(tool.parameters),
        },
    }


def completion_from_response(response: Any, model: str) -> Completion:
    """The first choice of a (non-streamed) ``ChatCompletion`` that has one; ``model`` when the
    response names none."""
    choice = response.choices[0]
    message = choice.message
    calls = tuple(
        ToolCall(
            id=call.id or f"call_{index}",
            name=call.function.name or "",
            arguments=_arguments_text(call.function.arguments),
        )
        for index, call in enumerate(message.tool_calls or ())
        if getattr(call, "function", None) is not None
    )
    usage = response.usage
    return Completion(
        content=message.content,
        tool_calls=calls,
        usage=Usage(
            input_tokens=usage.prompt_tokens or 0,
            output_tokens=usage.completion_tokens or 0,
        )
        if usage is not None
        else Usage(estimated=True),
        model=response.model or model,
        finish_reason=choice.finish_reason,
    )


@dataclass(slots=True)
class StreamState:
    """What a streamed answer has said so far: :meth:`add` each chunk, then :meth:`completion`."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, str]] = field(default_factory=dict)
    usage: Usage | None = None
    model: str = ""
    finish_reason: str | None = None
    streamed: bool = False
    """True once any text came (a retry would then repeat it to the listener)."""

    def add(self, chunk: Any) -> list[str]:
        """Take one ``ChatCompletionChunk``; return the text it adds, to pass on in order."""
        self.model = chunk.model or self.model
        if chunk.usage is not None:
            self.usage = Usage(
                input_tokens=chunk.usage.prompt_tokens or 0,
                output_tokens=chunk.usage.completion_tokens or 0,
            )
        pieces: list[str] = []
        for choice in chunk.choices or ():
            if choice.index not in (0, None):
                continue
            delta = choice.delta
            if delta is not None:
                if delta.content:
                    self.text.append(delta.content)
                    self.streamed = True
                    pieces.append(delta.content)
                for call in delta.tool_calls or ():
                    self._add_call_delta(call)
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
        return pieces

    def _add_call_delta(self, call: Any) -> None:
        index = call.index if call.index is not None else len(self.calls)
        entry = self.calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
        if call.id:
            entry["id"] = call.id
        function = call.function
        if function is not None:
            if function.name and not entry["name"]:
                entry["name"] = function.name
            if function.arguments:
                entry["arguments"] += _arguments_text(function.arguments)

    def completion(self, model: str) -> Completion:
        """The whole answer; ``model`` when the chunks named none."""
        calls = tuple(
            ToolCall(
                id=entry["id"] or f"call_{index}", name=entry["name"], arguments=entry["arguments"]
            )
            for index, entry in sorted(self.calls.items())
        )
        return Completion(
            content="".join(self.text) if self.text else None,
            tool_calls=calls,
            usage=self.usage or Usage(estimated=True),
            model=self.model or model,
            finish_reason=self.finish_reason,
        )


def with_estimated_usage(
    completion: Completion, messages: Sequence[ChatMessage], tools: Sequence[ToolDefinition]
) -> Completion:
    """Fill in an estimated usage when the endpoint reported none."""
    if not completion.usage.estimated:
        return completion
    usage = Usage(
        input_tokens=estimate_prompt_tokens(messages, tools),
        output_tokens=estimate_completion_tokens(completion.content, completion.tool_calls),
        estimated=True,
    )
    return Completion(
        content=completion.content,
        tool_calls=completion.tool_calls,
        usage=usage,
        model=completion.model,
        finish_reason=completion.finish_reason,
    )


def _arguments_text(arguments: Any) -> str:
    """Tool-call arguments as JSON text (a few servers send a JSON object, not a string)."""
    if arguments is None:
        return ""
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments)


__all__ = [
    "StreamState",
    "completion_from_response",
    "to_openai_message",
    "to_openai_tool",
    "with_estimated_usage",
]
