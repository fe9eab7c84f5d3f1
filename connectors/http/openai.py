"""``POST /v1/chat/completions``: OpenAI's chat format in, a Message through the runner, out.

Any OpenAI client or chat UI can talk to the agent. The last ``user`` message becomes the
:class:`Message` text (image parts become attachments); earlier turns are not replayed, since
the runner keeps each conversation's memory itself. The conversation is the
``X-Conversation-Id`` header, else the ``user`` field, else a new one per request; an
``Idempotency-Key`` header becomes the message id. Other parameters (temperature, tools ...)
are accepted and ignored: the agent decides.

Non-streaming answers are a ``chat.completion`` object; with ``"stream": true`` the answer is
Server-Sent Events of ``chat.completion.chunk`` objects ending with ``data: [DONE]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent_runner.errors import InvalidMessageError
from agent_runner.message import Message
from connectors.http.errors import RequestError

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
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(422, "messages must be a non-empty array")
    last_user: tuple[str, list[dict[str, str]]] | None = None
    for index, item in enumerate(messages):
        if not isinstance(item, Mapping):
            raise RequestError(422, f"messages[{index}] must be an object")
        role = item.get("role")
        if role not in ROLES:
            raise RequestError(422, f"messages[{index}].role must be one of {sorted(ROLES)}")
        content = _content(item.get("content"), index)
        if role == "user":
            last_user = content
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
        text=text, model=model or DEFAULT_MODEL, stream=stream, user=user, attachments=tuple(images)
    )


def chat_message(
    chat: ChatRequest, *, message_id: str, conversation: str, source: str, now: datetime
) -> Message:
    """The :class:`Message` a chat completion request becomes (422 when it is not valid)."""
    try:
        return Message.parse(
            {
                "id": message_id,
                "conversation_id": conversation,
                "source": source,
                "author": {"id": chat.user or "openai-client"},
                "text": chat.text,
                "attachments": list(chat.attachments),
                "created_at": now,
            }
        )
    except InvalidMessageError as exc:
        raise RequestError(422, exc.reason, details=exc.errors) from None


def completion_json(*, completion_id: str, created: int, model: str, text: str) -> dict[str, Any]:
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
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
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
    "join_replies",
    "parse_chat_request",
    "sse_event",
]
