"""The HTTP API's reference: an OpenAPI 3.1 document built from the models that validate.

``POST /v1/messages`` bodies become a :class:`~agent_runner.message.Message` (the model that
validates them), so its request schema is the Message's, without the fields the server sets
and with ``callback_url``. ``POST /v1/chat/completions`` bodies are validated by
:class:`ChatCompletionRequest` before anything else. Answers are described by the models
below. The connector serves the document at ``GET /openapi.json``;
``docs/reference/http-api.md`` is rendered from it by :func:`markdown` (a test keeps it
current: ``python -m connectors.http.schema > docs/reference/http-api.md``).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from agent_runner.message import Message, Reply
from connectors.http.messages import MAX_URL_LENGTH, SERVER_FIELDS


class ContentPart(BaseModel):
    """One part of a chat message's content: text, or an image by URL."""

    model_config = ConfigDict(extra="allow")

    type: Literal["text", "image_url"]
    text: str | None = None
    image_url: dict[str, Any] | str | None = None


class ChatMessage(BaseModel):
    """One message of the chat (``system``, ``developer``, ``user``, ``assistant`` ...)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """A chat completion request (parameters not listed are accepted and ignored, except
    those refused with 400 ``unsupported_parameter``: see :mod:`connectors.http.openai`)."""

    model_config = ConfigDict(extra="allow")

    messages: list[ChatMessage] = Field(min_length=1)
    model: str | None = Field(default=None, max_length=256)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(default=None, min_length=1, max_length=256)
    n: int | None = Field(default=None, description="only 1")


class FileOut(BaseModel):
    """A file of a reply: its bytes in base64 (``data``), or why they are not inlined
    (``error``: over 8 MiB)."""

    name: str
    content_type: str
    size: int
    data: str | None = Field(default=None, description="the file, base64")
    error: str | None = None


class ReplyOut(BaseModel):
    """A reply as the API shows it."""

    text: str
    attachments: list[dict[str, Any]] | None = None
    files: list[FileOut] | None = None
    metadata: dict[str, Any] | None = None


class MessageAnswer(BaseModel):
    """The answer to ``POST /v1/messages`` (200)."""

    id: str
    conversation_id: str
    replies: list[ReplyOut]


class Accepted(BaseModel):
    """The answer to ``POST /v1/messages`` with a ``callback_url`` (202)."""

    id: str
    conversation_id: str
    status: Literal["accepted"]


class ErrorDetail(BaseModel):
    code: str
    type: str
    message: str
    details: list[Any] | None = None


class ErrorBody(BaseModel):
    """Every refusal (4xx) and failure (5xx)."""

    error: ErrorDetail


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatChoice(BaseModel):
    index: int
    message: dict[str, Any]
    finish_reason: str | None


class ChatCompletion(BaseModel):
    """A non-streaming chat completion (with ``stream``: ``text/event-stream`` chunks)."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


_MODELS: list[type[BaseModel]] = [
    Message,
    Reply,
    MessageAnswer,
    Accepted,
    ErrorBody,
    ChatCompletionRequest,
    ChatCompletion,
    ModelList,
]
_REF = "#/components/schemas/{model}"


_MESSAGE_FIELDS = {
    "id": "the idempotency key (default: a new id); the same id and body is answered once, "
    "the same id with another body is a 422",
    "conversation_id": "default: a new conversation per request",
    "author": "who wrote it (default: http-client)",
    "text": "required unless there are attachments",
    "metadata": "JSON values for the agent (keys starting with 'http.' are reserved)",
}


def _message_request(message: dict[str, Any]) -> dict[str, Any]:
    """The Message schema as a client sends it: no server fields, plus ``callback_url``."""
    schema: dict[str, Any] = json.loads(json.dumps(message))
    for name in SERVER_FIELDS:
        schema["properties"].pop(name, None)
    schema["required"] = [r for r in schema.get("required", []) if r not in SERVER_FIELDS]
    schema["properties"]["callback_url"] = {
        "type": "string",
        "format": "uri",
        "maxLength": MAX_URL_LENGTH,
        "description": "answer 202 now and POST each reply here (public addresses only)",
    }
    for name, description in _MESSAGE_FIELDS.items():
        if name in schema["properties"]:
            schema["properties"][name]["description"] = description
    schema["required"] = []  # the server fills in id, conversation_id and author
    schema["title"] = "MessageRequest"
    schema["description"] = "A message in (the fields of Message the client may set)."
    return schema


def _json(model: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": _REF.format(model=model)}}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"description": "refused or failed", **_json("ErrorBody")} for s in statuses}


def openapi_document(*, title: str = "agent-runner HTTP API") -> dict[str, Any]:
    """The OpenAPI 3.1 document of the HTTP connector."""
    _, defs = models_json_schema(
        [(m, "validation") for m in _MODELS], ref_template=_REF, title=title
    )
    schemas = dict(defs["$defs"])
    schemas["MessageRequest"] = _message_request(schemas["Message"])
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/v1/messages": {
                "post": {
                    "summary": "Send a message; get its replies (or 202 with callback_url)",
                    "security": bearer,
                    "requestBody": {"required": True, **_json("MessageRequest")},
                    "responses": {
                        "200": {
                            "description": "the replies (their files in base64)",
                            **_json("MessageAnswer"),
                        },
                        "202": {"description": "accepted; replies go to callback_url"}
                        | _json("Accepted"),
                        **_errors(400, 401, 408, 409, 413, 422, 429, 500, 503, 504),
                    },
                }
            },
            "/v1/chat/completions": {
                "post": {
                    "summary": "OpenAI chat completions (stream: server-sent events)",
                    "security": bearer,
                    "requestBody": {"required": True, **_json("ChatCompletionRequest")},
                    "responses": {
                        "200": {
                            "description": "the completion (files as Markdown data: links)",
                            **_json("ChatCompletion"),
                        },
                        **_errors(400, 401, 408, 409, 413, 422, 429, 500, 503, 504),
                    },
                }
            },
            "/v1/models": {
                "get": {
                    "summary": "The agent, as the one model",
                    "security": bearer,
                    "responses": {"200": {"description": "models", **_json("ModelList")}},
                }
            },
            "/healthz": {"get": {"summary": "alive", "responses": {"200": {"description": "ok"}}}},
            "/readyz": {
                "get": {
                    "summary": "the runner is started",
                    "responses": {"200": {"description": "ready"}, **_errors(503)},
                }
            },
            "/openapi.json": {
                "get": {"summary": "this document", "responses": {"200": {"description": "ok"}}}
            },
        },
    }


def markdown(document: dict[str, Any] | None = None) -> str:
    """A readable page of the document: each route, its request fields and its answers."""
    document = document or openapi_document()
    schemas = document["components"]["schemas"]
    lines = [
        "# HTTP API reference",
        "",
        "Generated from the models that validate requests (`connectors.http.schema`); the",
        "running connector serves the same document at `GET /openapi.json`. Regenerate with",
        "`python -m connectors.http.schema > docs/reference/http-api.md`.",
    ]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            lines += ["", f"## `{method.upper()} {path}`", "", operation["summary"] + "."]
            body = operation.get("requestBody")
            if body is not None:
                ref = body["content"]["application/json"]["schema"]["$ref"]
                lines += ["", *_fields(schemas[ref.rsplit("/", 1)[1]])]
            responses = operation["responses"]
            ok = [f"{s} {i['description']}" for s, i in responses.items() if s < "400"]
            errors = [s for s in responses if s >= "400"]
            lines += ["", f"Answers: {'; '.join(ok)}."]
            if errors:
                lines[-1] += f" Errors (an `ErrorBody`): {', '.join(errors)}."
    return "\n".join(lines) + "\n"


def _fields(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    rows = ["| Field | Type | Required | Description |", "|---|---|---|---|"]
    for name, field in schema.get("properties", {}).items():
        kind = _type(field)
        description = " ".join(str(field.get("description", "")).split())
        rows.append(f"| `{name}` | {kind} | {'yes' if name in required else ''} | {description} |")
    return rows


def _type(field: dict[str, Any]) -> str:
    if "$ref" in field:
        return str(field["$ref"]).rsplit("/", 1)[1]
    if "anyOf" in field:
        return " or ".join(_type(f) for f in field["anyOf"])
    if field.get("type") == "array":
        return f"array of {_type(field.get('items', {}))}"
    return str(field.get("type", "any"))


if __name__ == "__main__":
    import sys

    sys.stdout.write(markdown())


__all__ = [
    "ChatCompletion",
    "ChatCompletionRequest",
    "ChatMessage",
    "ErrorBody",
    "FileOut",
    "MessageAnswer",
    "markdown",
    "openapi_document",
]
