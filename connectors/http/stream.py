"""A streamed chat completion: one request's replies relayed as Server-Sent Events.

The stream opens with an empty ``assistant`` delta, carries each text chunk the agent
streams (or each whole reply, when it did not stream it) as a ``chat.completion.chunk``,
and ends with a ``stop`` chunk and ``data: [DONE]``. A silence longer than the reply timeout
ends it with an error event instead; a client that goes away ends it early (the replies are
still kept for a retry with the same id).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from agent_runner.message import Reply
from connectors.http.errors import error_body
from connectors.http.files import markdown_links
from connectors.http.messages import agent_failure
from connectors.http.openai import (
    DONE,
    chunk_json,
    estimate_tokens,
    reply_usage,
    sse_event,
    usage_json,
)
from connectors.http.pending import Pending, Waiter

logger = logging.getLogger("connectors.http")


class ChatStream:
    """The SSE answer to one ``"stream": true`` chat completion request.

    Args:
        completion_id: the ``id`` of every chunk (``chatcmpl-<message id>``).
        created: Unix seconds, the ``created`` of every chunk.
        model: the ``model`` the client asked for, echoed.
        reply_timeout: the longest silence between chunks, in seconds.
    """

    __slots__ = (
        "_completion_id",
        "_created",
        "_model",
        "_prompt_tokens",
        "_reply_timeout",
        "_sent",
        "_usage",
    )

    def __init__(
        self,
        *,
        completion_id: str,
        created: int,
        model: str,
        reply_timeout: float,
        usage_of_prompt: int | None = None,
    ) -> None:
        self._completion_id = completion_id
        self._created = created
        self._model = model
        self._reply_timeout = reply_timeout
        self._prompt_tokens = usage_of_prompt
        self._sent: list[str] = []
        self._usage: tuple[int, int] | None = None

    def event(self, delta: dict[str, str], finish: str | None = None) -> bytes:
        """One ``chat.completion.chunk`` event."""
        if "content" in delta:
            self._sent.append(delta["content"])
        chunk = chunk_json(
            completion_id=self._completion_id,
            created=self._created,
            model=self._model,
            delta=delta,
            finish_reason=finish,
        )
        if self._prompt_tokens is not None:
            chunk["usage"] = None
        return sse_event(chunk)

    def usage_event(self) -> bytes:
        """The last chunk ``stream_options.include_usage`` asks for: no choices, the usage."""
        chunk = chunk_json(
            completion_id=self._completion_id, created=self._created, model=self._model, delta={}
        )
        chunk["choices"] = []
        estimate = (self._prompt_tokens or 0, estimate_tokens("".join(self._sent)))
        chunk["usage"] = usage_json(*(self._usage or estimate))
        return sse_event(chunk)

    async def relay(
        self, request: web.Request, waiter: Waiter, pending: Pending
    ) -> web.StreamResponse:
        """Answer ``request`` with the events ``waiter`` receives, until the message is done."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        try:
            await response.write(self.event({"role": "assistant", "content": ""}))
            await self._events(response, waiter, pending)
            if self._prompt_tokens is not None:
                await response.write(self.usage_event())
            await response.write(DONE)
            await response.write_eof()
        except ConnectionResetError:  # the client went away; the reply is still kept
            logger.info("stream of %s: the client disconnected", waiter.key)
        return response

    async def _events(self, response: web.StreamResponse, waiter: Waiter, pending: Pending) -> None:
        streamed = False
        replies = 0
        while True:
            try:
                async with asyncio.timeout(self._reply_timeout):
                    kind, value = await waiter.get()
            except TimeoutError:
                error = error_body(504, f"no reply within {self._reply_timeout:g}s")
                await response.write(sse_event(error))
                return
            if kind == "chunk" and isinstance(value, str):
                streamed = True
                await response.write(self.event({"content": value}))
            elif kind == "reply" and isinstance(value, Reply):
                self._usage = reply_usage([value]) or self._usage
                failure = agent_failure([value])
                if failure is not None:  # the status is sent already: an error event
                    body = error_body(failure.status, failure.message, code=failure.code)
                    await response.write(sse_event(body))
                    return
                text = value.text if not streamed else ""
                if value.files:  # after the streamed text too
                    text = "\n\n".join(p for p in (text, markdown_links(value.files)) if p)
                    text = text if not streamed else "\n\n" + text
                if text:
                    text = text if replies == 0 or streamed else "\n\n" + text
                    await response.write(self.event({"content": text}))
                replies += 1
                streamed = False
                if not pending.completes_seen:
                    break
            elif kind == "done":
                break
        await response.write(self.event({}, "stop"))


__all__ = ["ChatStream"]
