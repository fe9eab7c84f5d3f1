"""A local OpenAI-compatible chat-completions server for tests (aiohttp on 127.0.0.1).

It speaks the real wire protocol: ``POST /v1/chat/completions`` with a bearer key, JSON
completions with ``usage``, Server-Sent Events when ``stream`` is true (content and tool-call
deltas, a usage chunk when ``stream_options.include_usage``, ``data: [DONE]``), and OpenAI's
error bodies. Like the real API it refuses (400) a conversation whose tool messages do not
answer the preceding assistant's tool calls one for one.

::

    async with OpenAIServer() as server:
        server.script(Answer(content="hi", usage=(12, 3)))
        client = OpenAIClient(model="test-model", base_url=server.base_url, api_key=server.api_key)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Body = dict[str, Any]


@dataclass
class Answer:
    """One scripted response.

    ``calls`` are ``(name, arguments)`` pairs (arguments: a dict, or a raw string that may be
    invalid JSON). ``status`` other than 200 makes it an error response with ``error`` as the
    message. ``gate``: when streaming, the server sends the first content chunk, then waits
    for this event before the rest (proves the client forwards chunks as they arrive).
    """

    content: str | None = None
    calls: Sequence[tuple[str, Mapping[str, Any] | str]] = ()
    usage: tuple[int, int] | None = (10, 5)
    status: int = 200
    error: str = "error"
    headers: Mapping[str, str] = field(default_factory=dict)
    chunk_size: int = 4
    gate: asyncio.Event | None = None
    hang: bool = False
    cut: bool = False
    """When streaming: drop the connection after the first content chunk."""
    loose_calls: bool = False
    """Tool calls without ids and with arguments as a JSON object (some local servers)."""


def text(content: str, *, usage: tuple[int, int] | None = (10, 5)) -> Answer:
    return Answer(content=content, usage=usage)


def calls(*pairs: tuple[str, Mapping[str, Any] | str], usage: tuple[int, int] = (10, 5)) -> Answer:
    return Answer(calls=pairs, usage=usage)


def error(status: int, message: str = "error", **headers: str) -> Answer:
    return Answer(status=status, error=message, headers=headers)


ScriptEntry = Answer | Callable[[Body], Answer]


class OpenAIServer:
    """The server; ``requests`` holds every request body it accepted, in order."""

    def __init__(self, *, api_key: str = "test-key", model: str = "test-model") -> None:
        self.api_key = api_key
        self.model = model
        self.requests: list[Body] = []
        self.headers: list[dict[str, str]] = []
        self.rejected: list[tuple[int, str]] = []
        self.default: ScriptEntry | None = None
        self._script: deque[ScriptEntry] = deque()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._hung = asyncio.Event()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *entries: ScriptEntry) -> None:
        self._script.extend(entries)

    async def start(self) -> OpenAIServer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        self._hung.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> OpenAIServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the endpoint -------------------------------------------------------------------

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        self.headers.append(dict(request.headers))
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "Incorrect API key provided.", "invalid_request_error")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return self._error(400, "We could not parse the JSON body of your request.")
        problem = validate_request(body)
        if problem:
            return self._error(400, problem)
        self.requests.append(body)
        if self._script:
            entry = self._script.popleft()
        elif self.default is not None:
            entry = self.default
        else:
            return self._error(500, "test server: the script is used up", "server_error")
        answer = entry(body) if callable(entry) else entry
        if answer.hang:
            await self._hung.wait()
        if answer.status != 200:
            kind = "rate_limit_error" if answer.status == 429 else "server_error"
            return self._error(answer.status, answer.error, kind, answer.headers)
        if body.get("stream"):
            return await self._stream(request, body, answer)
        return web.json_response(self._completion(body, answer), headers=answer.headers)

    def _error(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        self.rejected.append((status, message))
        payload = {"error": {"message": message, "type": kind, "param": None, "code": None}}
        return web.json_response(payload, status=status, headers=dict(headers or {}))

    def _tool_calls(self, answer: Answer) -> list[Body]:
        out = []
        for name, arguments in answer.calls:
            raw = arguments if isinstance(arguments, str) else json.dumps(dict(arguments))
            call: Body = {
                "id": f"call_{next(self._ids)}",
                "type": "function",
                "function": {"name": name, "arguments": raw},
            }
            if answer.loose_calls:
                del call["id"]
                call["function"]["arguments"] = json.loads(raw)
            out.append(call)
        return out

    def _completion(self, body: Body, answer: Answer) -> Body:
        message: Body = {"role": "assistant", "content": answer.content, "refusal": None}
        tool_calls = self._tool_calls(answer)
        if tool_calls:
            message["tool_calls"] = tool_calls
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if tool_calls else "stop",
                }
            ],
            "usage": _usage(answer.usage),
        }

    async def _stream(self, request: web.Request, body: Body, answer: Answer) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        ident = f"chatcmpl-{next(self._ids)}"
        model = body.get("model", self.model)

        def chunk(delta: Body, finish: str | None = None, usage: Body | None = None) -> bytes:
            choices = (
                []
                if delta is None
                else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            )
            data = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": choices,
                "usage": usage,
            }
            return f"data: {json.dumps(data)}\n\n".encode()

        await response.write(chunk({"role": "assistant", "content": ""}))
        content = answer.content or ""
        pieces = [
            content[i : i + answer.chunk_size] for i in range(0, len(content), answer.chunk_size)
        ]
        for index, piece in enumerate(pieces):
            await response.write(chunk({"content": piece}))
            if index == 0 and answer.gate is not None:
                await answer.gate.wait()
            if index == 0 and answer.cut:
                assert request.transport is not None
                request.transport.abort()
                return response
        for index, call in enumerate(self._tool_calls(answer)):
            head = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            await response.write(chunk({"tool_calls": [head]}))
            raw = call["function"]["arguments"]
            for start in range(0, len(raw), 5):
                part = {"index": index, "function": {"arguments": raw[start : start + 5]}}
                await response.write(chunk({"tool_calls": [part]}))
        await response.write(chunk({}, "tool_calls" if answer.calls else "stop"))
        options = body.get("stream_options") or {}
        if options.get("include_usage") and answer.usage is not None:
            data = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [],
                "usage": _usage(answer.usage),
            }
            await response.write(f"data: {json.dumps(data)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _usage(usage: tuple[int, int] | None) -> Body | None:
    if usage is None:
        return None
    return {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}


def validate_request(body: Any) -> str | None:
    """What the real API would refuse with a 400, or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty array"
    pending: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("system", "developer", "user", "assistant", "tool"):
            return f"messages[{index}].role is invalid: {role!r}"
        if role == "tool":
            if message.get("tool_call_id") not in pending:
                return (
                    f"messages[{index}]: messages with role 'tool' must be a response to a "
                    "preceding message with 'tool_calls'"
                )
            pending.remove(message["tool_call_id"])
            if not isinstance(message.get("content"), str):
                return f"messages[{index}].content must be a string"
            continue
        if pending:
            return (
                "an assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id' (missing: {', '.join(pending)})"
            )
        if role == "assistant" and message.get("tool_calls"):
            pending = [call["id"] for call in message["tool_calls"]]
        elif role == "user" and isinstance(message.get("content"), list):
            problem = _content_parts(message["content"], index)
            if problem:
                return problem
        elif not isinstance(message.get("content"), str):
            return f"messages[{index}].content must be a string"
    if pending:
        return f"tool calls without answers: {', '.join(pending)}"
    tools = body.get("tools")
    if tools is not None:
        for tool in tools:
            function = tool.get("function") if tool.get("type") == "function" else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                return "tools must be function tools with a name"
            if function.get("parameters", {}).get("type") != "object":
                return f"tool {function['name']}: parameters must be an object schema"
    elif "tool_choice" in body:
        return "tool_choice is only allowed when tools are specified"
    return None


def _content_parts(parts: list[Any], index: int) -> str | None:
    """What the real API refuses in a user message's content parts (text and images)."""
    if not parts:
        return f"messages[{index}].content: an array must not be empty"
    for number, part in enumerate(parts):
        where = f"messages[{index}].content[{number}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if not isinstance(part.get("text"), str):
                return f"{where}.text must be a string"
        elif kind == "image_url":
            url = (part.get("image_url") or {}).get("url")
            if not isinstance(url, str) or not (
                url.startswith(("http://", "https://")) or url.startswith("data:image/")
            ):
                return f"{where}.image_url.url must be an http(s) URL or a data:image/ URL"
        else:
            return f"{where}.type is invalid: {kind!r}"
    return None
