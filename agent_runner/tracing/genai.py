"""Model and tool call spans, after the OpenTelemetry GenAI semantic conventions.

A model call is a ``chat {model}`` span (client kind) with ``gen_ai.operation.name``,
``gen_ai.provider.name`` (and the older ``gen_ai.system``), ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens`` and
``gen_ai.response.finish_reasons``. A tool call is an ``execute_tool {name}`` span with
``gen_ai.tool.name`` and ``gen_ai.tool.call.id``. Prompts, completions, tool arguments and
results are recorded only with ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from agent_runner.tracing import spans

if TYPE_CHECKING:
    from agent_runner.llm import ChatMessage, Completion, ToolCall

T = TypeVar("T")

UNKNOWN_PROVIDER = "_OTHER"
"""``gen_ai.provider.name`` of a model client that names no ``provider``."""


def _messages(messages: Sequence[ChatMessage]) -> str:
    """The prompt as the conventions' ``gen_ai.input.messages`` JSON (role and text parts)."""
    out = []
    for message in messages:
        parts: list[dict[str, Any]] = []
        if message.content:
            parts.append({"type": "text", "content": message.content})
        for call in message.tool_calls:
            parts.append({"type": "tool_call", "id": call.id, "name": call.name})
        out.append({"role": message.role, "parts": parts})
    return json.dumps(out, ensure_ascii=False)


def chat(
    client: object, model: str, messages: Sequence[ChatMessage]
) -> AbstractContextManager[Any]:
    """The span of one model call with ``messages`` (yields it, or None while off)."""
    if not spans.active():
        return spans.OFF
    provider = str(getattr(client, "provider", UNKNOWN_PROVIDER))
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.system": provider,
        "gen_ai.request.model": model,
    }
    if spans.capture_content():
        attributes["gen_ai.input.messages"] = _messages(messages)
    return spans.span(f"chat {model}", attributes, kind="client")


def chat_result(span: Any, completion: Completion, model: str) -> None:
    """Record what a model call returned on its span (nothing when ``span`` is None)."""
    if span is None:
        return
    usage = completion.usage
    span.set_attribute("gen_ai.response.model", completion.model or model)
    span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
    if completion.finish_reason:
        span.set_attribute("gen_ai.response.finish_reasons", [completion.finish_reason])
    if spans.capture_content():
        parts: list[dict[str, Any]] = []
        if completion.content:
            parts.append({"type": "text", "content": completion.content})
        for call in completion.tool_calls:
            parts.append({"type": "tool_call", "id": call.id, "name": call.name})
        output = [{"role": "assistant", "parts": parts}]
        span.set_attribute("gen_ai.output.messages", json.dumps(output, ensure_ascii=False))


def tool_call(call: ToolCall, run: Awaitable[T]) -> Awaitable[T]:
    """``run`` (the tool call ``call``) inside an ``execute_tool {name}`` span when on."""
    if not spans.active():
        return run
    return _tool_call(call, run)


async def _tool_call(call: ToolCall, run: Awaitable[T]) -> T:
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": call.name,
        "gen_ai.tool.call.id": call.id,
        "gen_ai.tool.type": "function",
    }
    capture = spans.capture_content()
    if capture:
        attributes["gen_ai.tool.call.arguments"] = call.arguments
    with spans.span(f"execute_tool {call.name}", attributes) as span:
        result = await run
        if capture and span is not None:
            span.set_attribute("gen_ai.tool.call.result", str(result))
        return result


__all__ = ["UNKNOWN_PROVIDER", "chat", "chat_result", "tool_call"]
