"""Offline token estimates, for budget checks before a call and for endpoints that report no
usage. Deliberately a little generous: a budget check should refuse rather than overspend."""

from __future__ import annotations

import json
from collections.abc import Sequence

from agent_runner.llm._client import ChatMessage, ToolCall, ToolDefinition
from agent_runner.memory import estimate_tokens

_MESSAGE_OVERHEAD = 4
"""Tokens a chat template adds around each message (role markers, separators)."""
_PROMPT_OVERHEAD = 3
IMAGE_TOKENS = 1_105
"""Tokens one image is estimated at (a 1024x1024 image at high detail on gpt-4o: 765;
generous, as budget checks should be)."""


def estimate_text_tokens(text: str) -> int:
    """The short-term memory's estimate (:func:`agent_runner.memory.estimate_tokens`)."""
    return estimate_tokens(text)


def estimate_prompt_tokens(
    messages: Sequence[ChatMessage], tools: Sequence[ToolDefinition] = ()
) -> int:
    """Estimate the input tokens of a prompt: every message, tool call and tool schema."""
    total = _PROMPT_OVERHEAD + estimate_tools_tokens(tools)
    for message in messages:
        total += estimate_message_tokens(message)
    return total


def estimate_message_tokens(message: ChatMessage) -> int:
    """Estimate the tokens one prompt message adds (content, name, tool calls)."""
    total = _MESSAGE_OVERHEAD + estimate_text_tokens(message.content or "")
    if message.name:
        total += 1
    total += IMAGE_TOKENS * len(message.images)
    for call in message.tool_calls:
        total += _MESSAGE_OVERHEAD + estimate_text_tokens(call.name + call.arguments)
    return total


def estimate_tools_tokens(tools: Sequence[ToolDefinition]) -> int:
    """Estimate the tokens the tool definitions add to every prompt."""
    total = 0
    for tool in tools:
        schema = json.dumps(dict(tool.parameters), separators=(",", ":"))
        total += _MESSAGE_OVERHEAD + estimate_text_tokens(tool.name + tool.description + schema)
    return total


def estimate_completion_tokens(content: str | None, tool_calls: Sequence[ToolCall] = ()) -> int:
    """Estimate the output tokens of an answer (text plus tool calls)."""
    total = estimate_text_tokens(content or "")
    for call in tool_calls:
        total += _MESSAGE_OVERHEAD + estimate_text_tokens(call.name + call.arguments)
    return total
