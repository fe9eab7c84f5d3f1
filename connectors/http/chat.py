"""The OpenAI-compatible routes: ``POST /v1/chat/completions`` and ``GET /v1/models``.

The request format, the conversation rules and the parameters refused are described in
:mod:`connectors.http.openai`; this module answers them through the connector's
:class:`~connectors.http.intake.Intake`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from aiohttp import web

from agent_runner.message import Reply
from connectors.http.admission import Admission
from connectors.http.files import markdown_links
from connectors.http.intake import Intake
from connectors.http.messages import decode_body, duplicate_error, new_message_id
from connectors.http.openai import (
    CONVERSATION_HEADER,
    DEFAULT_MODEL,
    IDEMPOTENCY_HEADER,
    chat_message,
    completion_json,
    estimate_tokens,
    join_replies,
    parse_chat_request,
    reply_usage,
    usage_json,
)
from connectors.http.pending import Pending
from connectors.http.stream import ChatStream


class ChatRoutes:
    """The handlers of the OpenAI-compatible routes.

    Args:
        intake: the connector's way to the runner.
        admission: rate limit, body size, authentication.
        pending: the waiters a stream reads its chunks from.
        source: the connector's name (the messages' ``source``).
        model: the model id ``GET /v1/models`` lists (any ``model`` asked for is echoed).
    """

    def __init__(
        self,
        *,
        intake: Intake,
        admission: Admission,
        pending: Pending,
        source: str,
        model: str = DEFAULT_MODEL,
    ) -> None:
        self._intake = intake
        self._admission = admission
        self._pending = pending
        self._source = source
        self._model = model
        self._created = int(time.time())

    def add_to(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self.completions)
        app.router.add_get("/v1/models", self.models)

    async def models(self, request: web.Request) -> web.StreamResponse:
        await self._admission.admit(request)
        model = {"id": self._model, "object": "model", "created": self._created}
        return web.json_response({"object": "list", "data": [{**model, "owned_by": "agent"}]})

    async def completions(self, request: web.Request) -> web.StreamResponse:
        data = decode_body(await self._admission.admit(request))
        chat = parse_chat_request(data)
        message_id = request.headers.get(IDEMPOTENCY_HEADER) or new_message_id()
        conversation = request.headers.get(CONVERSATION_HEADER) or chat.user or message_id
        message = chat_message(
            chat,
            message_id=message_id,
            conversation=conversation,
            source=self._source,
            now=datetime.now(UTC),
        )
        if IDEMPOTENCY_HEADER in request.headers:
            self._intake.check_reuse(message, data)
        created = int(time.time())
        completion_id = f"chatcmpl-{message.id}"
        if chat.stream:
            stream = ChatStream(
                completion_id=completion_id,
                created=created,
                model=chat.model,
                reply_timeout=self._intake.reply_timeout,
                usage_of_prompt=chat.prompt_tokens if chat.include_usage else None,
            )
            if self._pending.answer(message.key) is not None:
                raise duplicate_error(message)
            waiter = self._intake.open_waiter(message, stream=True)
            try:
                accepted = await self._intake.push(message)
                if accepted.duplicate:
                    raise duplicate_error(message)
                return await stream.relay(request, waiter, self._pending)
            finally:
                self._pending.close(waiter)
        replies = await self._intake.replies(message)
        text = join_replies([with_files(r) for r in replies])
        used = reply_usage(replies) or (chat.prompt_tokens, estimate_tokens(text))
        usage = usage_json(*used)
        return web.json_response(
            completion_json(
                completion_id=completion_id,
                created=created,
                model=chat.model,
                text=text,
                usage=usage,
            )
        )


def with_files(reply: Reply) -> str:
    """A reply's text, its files appended as Markdown ``data:`` links."""
    if not reply.files:
        return reply.text
    return "\n\n".join(part for part in (reply.text, markdown_links(reply.files)) if part)


__all__ = ["ChatRoutes", "with_files"]
