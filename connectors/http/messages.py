"""``POST /v1/messages``: the request body, validated into a :class:`Message`, and the answer.

Request body (JSON object)::

    {"text": "hello",                    required unless there are attachments
     "id": "client-42",                  optional; the idempotency key (a retry with the same
                                         id is never handled twice)
     "conversation_id": "alice",         optional; default: a new conversation per request
     "author": {"id": "alice", "name": "Alice"},   optional
     "attachments": [...], "reply_to": "...", "depth": 0, "payment": "...",
     "metadata": {...},                  optional, as in Message
     "callback_url": "https://..."}      optional; answer 202 now, POST the replies there

``source`` and ``created_at`` are set by the server. Unknown fields are refused. A body that
is not JSON (or holds ``NaN``/``Infinity``) is refused with 400 by :func:`decode_body`, which
the chat completions route uses too.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from agent_runner.errors import InvalidMessageError
from agent_runner.message import OUTCOME_KEY, Message, Reply
from connectors.http.errors import RequestError
from connectors.http.files import file_json

CALLBACK_KEY = "http.callback_url"
"""Where the callback URL travels in ``Message.metadata`` (journaled, so it survives restarts)."""
RESERVED_PREFIX = "http."
DEFAULT_AUTHOR = "http-client"
MAX_URL_LENGTH = 2048

CLIENT_FIELDS = frozenset(
    {
        "id",
        "conversation_id",
        "author",
        "text",
        "attachments",
        "reply_to",
        "depth",
        "payment",
        "metadata",
        "callback_url",
    }
)
SERVER_FIELDS = frozenset({"source", "created_at"})

_ID_PREFIX = os.urandom(6).hex()
_id_counter = itertools.count(1)


def new_message_id() -> str:
    """A unique message id: a random per-process prefix and a counter (cheaper than uuid4)."""
    return f"{_ID_PREFIX}{next(_id_counter):08x}"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def decode_body(body: bytes) -> Any:
    """Decode a JSON body (UTF-8; NaN and Infinity refused) or raise a 400."""
    try:
        text = body.decode("utf-8")
        if not text.strip():
            raise RequestError(400, "body is empty; send a JSON object", code="invalid_json")
        return _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        reason = str(exc)[:200] if isinstance(exc, ValueError) else "nested too deeply"
        raise RequestError(400, f"body is not valid JSON: {reason}", code="invalid_json") from None


def check_callback_url(value: Any) -> str:
    """A callback URL must be an absolute http(s) URL with a host."""
    if not isinstance(value, str):
        raise RequestError(422, "callback_url must be a string", code="invalid_callback_url")
    if len(value) > MAX_URL_LENGTH:
        raise RequestError(
            422, f"callback_url is longer than {MAX_URL_LENGTH}", code="invalid_callback_url"
        )
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # raises ValueError for a bad port
    except ValueError:
        valid = False
    if not valid:
        raise RequestError(
            422, "callback_url must be an absolute http or https URL", code="invalid_callback_url"
        )
    return value


def parse_message_body(
    data: Any, *, source: str, new_id: Callable[[], str], now: datetime
) -> Message:
    """Validate a decoded JSON body into a Message (source and time set by the server).

    Raises:
        RequestError: 422 with the reason (wrong shape, unknown or server-set fields, an
            invalid Message, a bad callback URL).
    """
    if not isinstance(data, Mapping):
        raise RequestError(422, f"body must be a JSON object, not {_json_type(data)}")
    if not data.keys() <= CLIENT_FIELDS:
        server = sorted(SERVER_FIELDS & data.keys())
        if server:
            raise RequestError(422, f"{', '.join(server)}: set by the server, do not send")
        unknown = sorted(str(k) for k in data.keys() - CLIENT_FIELDS)
        raise RequestError(422, f"unknown fields: {', '.join(unknown)}", code="unknown_fields")
    fields = dict(data)
    callback = fields.pop("callback_url", None)
    metadata = fields.get("metadata")
    if isinstance(metadata, Mapping) and any(
        isinstance(k, str) and k.startswith(RESERVED_PREFIX) for k in metadata
    ):
        raise RequestError(422, f"metadata keys starting with {RESERVED_PREFIX!r} are reserved")
    if callback is not None:
        url = check_callback_url(callback)
        base = metadata if isinstance(metadata, Mapping) else {}
        if metadata is None or isinstance(metadata, Mapping):
            fields["metadata"] = {**base, CALLBACK_KEY: url}
    message_id = fields.get("id")
    if message_id is None:
        message_id = fields["id"] = new_id()
    fields.setdefault("conversation_id", message_id)
    fields.setdefault("author", {"id": DEFAULT_AUTHOR})
    fields["source"] = source
    fields["created_at"] = now
    try:
        return Message.parse(fields)
    except InvalidMessageError as exc:
        raise RequestError(422, exc.reason, details=exc.errors) from None


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def body_fingerprint(data: Any) -> str:
    """A digest of a decoded request body, to tell a retry from a reused id."""
    return hashlib.sha256(_CANONICAL.encode(data).encode()).hexdigest()


def agent_failure(replies: Sequence[Reply]) -> RequestError | None:
    """The 5xx for replies the runner made because the agent failed (its error text)."""
    for reply in replies:
        outcome = reply.metadata.get(OUTCOME_KEY)
        if outcome == "error":
            return RequestError(500, reply.text, code="agent_error")
        if outcome == "timeout":
            return RequestError(504, reply.text, code="agent_timeout")
    return None


def answered(replies: list[Reply]) -> list[Reply]:
    """``replies`` as the answer, or the agent's failure raised as a 5xx."""
    failure = agent_failure(replies)
    if failure is not None:
        raise failure
    return replies


def duplicate_error(message: Message) -> RequestError:
    """The 409 for an id accepted before whose replies are not kept here."""
    return RequestError(
        409,
        f"message id {message.id!r} was already accepted; its reply is not available here",
        code="duplicate_id",
    )


def callback_url(message: Message) -> str | None:
    """The callback URL a message asked for, if any."""
    value = message.metadata.get(CALLBACK_KEY)
    return value if isinstance(value, str) else None


def reply_json(reply: Reply) -> dict[str, Any]:
    """A reply as the API shows it (routing ``targets`` left out)."""
    body: dict[str, Any] = {"text": reply.text}
    if reply.attachments:
        body["attachments"] = [
            a.model_dump(mode="json", exclude_none=True) for a in reply.attachments
        ]
    if reply.files:
        body["files"] = [file_json(f) for f in reply.files]
    if reply.metadata:
        body["metadata"] = reply.metadata
    return body


def message_json(message: Message) -> dict[str, Any]:
    """The request as echoed in answers and callbacks (internal metadata left out)."""
    body = message.model_dump(mode="json", exclude_defaults=True)
    metadata = {k: v for k, v in message.metadata.items() if not k.startswith(RESERVED_PREFIX)}
    body.pop("metadata", None)
    if metadata:
        body["metadata"] = metadata
    body["created_at"] = message.created_at.isoformat()
    return body


def answer_json(message: Message, replies: Sequence[Reply]) -> dict[str, Any]:
    """The synchronous answer: the message's ids and every reply, in order."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "replies": [reply_json(r) for r in replies],
    }


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


__all__ = [
    "CALLBACK_KEY",
    "agent_failure",
    "answer_json",
    "answered",
    "body_fingerprint",
    "callback_url",
    "check_callback_url",
    "decode_body",
    "duplicate_error",
    "message_json",
    "new_message_id",
    "parse_message_body",
    "reply_json",
]
