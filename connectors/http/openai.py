"""``POST /v1/chat/completions``: OpenAI's chat format in, a Message through the runner, out.

Any OpenAI client or chat UI can talk to the agent. The last ``user`` message becomes the
:class:`Message` text (image parts become attachments).

Conversations: a client that names one (the ``X-Conversation-Id`` header, else the ``user``
field) gets the runner's memory of it; the earlier turns in ``messages`` are used only while
that memory is empty. A stateless client (naming none) gets a new conversation per request,
seeded with the earlier turns it sent (``HISTORY_KEY``), so a 4-turn chat is answered as a
4-turn chat. An ``Idempotency-Key`` header becomes the message id.

Parameters: ``model`` is echoed; ``stream`` and ``stream_options.include_usage`` are
honoured; parameters the agent's answer cannot honour are refused with 400
``unsupported_parameter``: ``n`` other than 1, ``tools``/``functions`` (with a ``tool_choice``
other than ``"none"``), a ``response_format`` other than ``text``, ``logprobs``, audio
``modalities``. Sampling parameters (``temperature``, ``top_p``, ``max_tokens``, ``stop``,
``seed``, penalties ...) are accepted and ignored: the agent decides.

``usage`` holds the tokens the agent's model calls used when they were metered through
pricing in this request (the runner hands them over as ``Reply.metadata[USAGE_KEY]``), and
an estimate otherwise (about 4 characters a token, :func:`estimate_tokens`).

Non-streaming answers are a ``chat.completion`` object; with ``"stream": true`` the answer is
Server-Sent Events of ``chat.completion.chunk`` objects ending with ``data: [DONE]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from agent_runner.errors import InvalidMessageError
from agent_runner.message import HISTORY_KEY, USAGE_KEY, Message, Reply
from connectors.http.errors import RequestError
from connectors.http.schema import ChatCompletionRequest

DEFAULT_MODEL = "agent-runner"
CONVERSATION_HEADER = "X-Conversation-Id"
IDEMPOTENCY_HEADER = "Idempotency-Key"
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What the connector needs from a chat completion request."""

    text: str
    model: str = DEFAULT_MODEL
    stream: bool = False
    user: str | None = None
    attachments: tuple[dict[str, str], ...] = field(default_factory=tuple)
    history: tuple[dict[str, str], ...] = ()
    """The turns before the last user message (system, user and assistant text)."""
    include_usage: bool = False
    prompt_tokens: int = 0
    """The estimated tokens of every message sent."""


def estimate_tokens(text: str) -> int:
    """About 4 characters a token (what ``usage`` says when no model metered the request)."""
    return (len(text) + 3) // 4


_HISTORY_ROLES = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}


def _refuse_unsupported(data: Mapping[str, Any]) -> None:
    """400 for parameters the agent's answer cannot honour (see the module docstring)."""
    problems = []
    if data.get("n") not in (None, 1):
        problems.append("n must be 1 (one answer per request)")
    if data.get("tools") or data.get("functions"):
        if data.get("tool_choice", data.get("function_call")) not in ("none",):
            problems.append("tools/functions are not supported: the agent has its own tools")
    response_format = data.get("response_format")
    if response_format is not None and (
        not isinstance(response_format, Mapping) or response_format.get("type") != "text"
    ):
        problems.append("response_format must be text")
    if data.get("logprobs") or data.get("top_logprobs"):
        problems.append("logprobs are not available")
    modalities = data.get("modalities")
    if modalities is not None and modalities != ["text"]:
        problems.append("only the text modality is supported")
    if problems:
        raise RequestError(400, "; ".join(problems), code="unsupported_parameter")


def _include_usage(data: Mapping[str, Any]) -> bool:
    options = data.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, Mapping) or not isinstance(
        options.get("include_usage", False), bool
    ):
        raise RequestError(422, "stream_options.include_usage must be a boolean")
    return bool(options.get("include_usage"))


def _content(content: Any, index: int) -> tuple[str, list[dict[str, str]]]:
    """Text and image attachments of one message's ``content``."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise RequestError(422, f"messages[{index}].content must be a string or an array")
    texts: list[str] = []
    images: list[dict[str, str]] = []
    for n, part in enumerate(content):
        where = f"messages[{index}].content[{n}]"
        if not isinstance(part, Mapping):
            raise RequestError(422, f"{where} must be an object")
        kind = part.get("type")
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise RequestError(422, f"{where}.text must be a string")
            texts.append(text)
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            if not isinstance(url, str) or not url:
                raise RequestError(422, f"{where}.image_url.url must be a string")
            if url.startswith("data:") and not url.startswith("data:image/"):
                kind = url[5:].split(";", 1)[0].split(",", 1)[0] or "no type"
                raise RequestError(
                    422, f"{where}.image_url.url is a data: URL of {kind}, not an image"
                )
            images.append({"url": url})
        else:
            raise RequestError(422, f"{where}.type {kind!r} is not supported (text, image_url)")
    return "\n".join(texts), images


def parse_chat_request(data: Any) -> ChatRequest:
    """Validate a decoded chat completion body.

    Raises:
        RequestError: 422 naming the wrong field.
    """
    if not isinstance(data, Mapping):
        raise RequestError(422, "body must be a JSON object")
    try:
        ChatCompletionRequest.model_validate(data)  # the model the OpenAPI document shows
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RequestError(422, f"{where}: {first['msg']}") from None
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(422, "messages must be a non-empty array")
    _refuse_unsupported(data)
    last_user: tuple[str, list[dict[str, str]]] | None = None
    last_index = 0
    turns: list[dict[str, str]] = []
    for index, item in enumerate(messages):
        if not isinstance(item, Mapping):
            raise RequestError(422, f"messages[{index}] must be an object")
        role = item.get("role")
        if role not in ROLES:
            raise RequestError(422, f"messages[{index}].role must be one of {sorted(ROLES)}")
        content = _content(item.get("content"), index)
        if role == "user":
            last_user = content
            last_index = len(turns)
        if role in _HISTORY_ROLES and content[0]:
            turns.append({"role": _HISTORY_ROLES[role], "content": content[0]})
    if last_user is None:
        raise RequestError(422, "messages has no user message")
    model = data.get("model", DEFAULT_MODEL)
    if model is None:
        model = DEFAULT_MODEL
    if not isinstance(model, str) or len(model) > 256:
        raise RequestError(422, "model must be a string of at most 256 characters")
    stream = data.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise RequestError(422, "stream must be a boolean")
    user = data.get("user")
    if user is not None and (not isinstance(user, str) or not 0 < len(user) <= 256):
        raise RequestError(422, "user must be a string of 1 to 256 characters")
    text, images = last_user
    return ChatRequest(
        text=text,
        model=model or DEFAULT_MODEL,
        stream=stream,
        user=user,
        attachments=tuple(images),
        history=tuple(turns[:last_index]),
        include_usage=_include_usage(data),
        prompt_tokens=sum(estimate_tokens(t["content"]) for t in turns),
    )


def chat_message(
    chat: ChatRequest, *, message_id: str, conversation: str, source: str, now: datetime
) -> Message:
    """The :class:`Message` a chat completion request becomes (422 when it is not valid)."""
    fields: dict[str, Any] = {
        "id": message_id,
        "conversation_id": conversation,
        "source": source,
        "author": {"id": chat.user or "openai-client"},
        "text": chat.text,
        "attachments": list(chat.attachments),
        "created_at": now,
    }
    if chat.history:
        fields["metadata"] = {HISTORY_KEY: [dict(turn) for turn in chat.history]}
    try:
        return Message.parse(fields)
    except InvalidMessageError as exc:
        raise RequestError(422, exc.reason, details=exc.errors) from None


def reply_usage(replies: Sequence[Reply]) -> tuple[int, int] | None:
    """The tokens the runner's pricing meter recorded for the request, if it did."""
    for reply in reversed(replies):
        usage = reply.metadata.get(USAGE_KEY)
        if isinstance(usage, Mapping):
            used_in, used_out = usage.get("input_tokens"), usage.get("output_tokens")
            if isinstance(used_in, int) and isinstance(used_out, int):
                return used_in, used_out
    return None


def usage_json(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """The ``usage`` object."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion_json(
    *, completion_id: str, created: int, model: str, text: str, usage: Mapping[str, int]
) -> dict[str, Any]:
    """A non-streaming ``chat.completion`` object."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": dict(usage),
    }


def chunk_json(
    *,
    completion_id: str,
    created: int,
    model: str,
    delta: Mapping[str, str],
    finish_reason: str | None = None,
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` of a stream."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "delta": dict(delta), "logprobs": None, "finish_reason": finish_reason}
        ],
    }


def sse_event(data: Mapping[str, Any]) -> bytes:
    """One Server-Sent Event carrying ``data`` as JSON."""
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def join_replies(texts: Sequence[str]) -> str:
    """Several replies shown as one assistant message."""
    return "\n\n".join(t for t in texts if t)


__all__ = [
    "CONVERSATION_HEADER",
    "DEFAULT_MODEL",
    "DONE",
    "IDEMPOTENCY_HEADER",
    "ChatRequest",
    "chat_message",
    "chunk_json",
    "completion_json",
    "estimate_tokens",
    "join_replies",
    "parse_chat_request",
    "reply_usage",
    "sse_event",
    "usage_json",
]
