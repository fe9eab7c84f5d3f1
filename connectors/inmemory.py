"""An in-process connector, input and output at once: for tests and for embedding a bot.

Push messages from your code, read the replies back; everything goes through the real
runner (validation, loop guards, journal, memory, pricing, routing, retries)::

    chat = InMemoryConnector()
    runtime = AgentRuntime([chat], [chat], echo, store=InMemoryStore())
    task = asyncio.create_task(runtime.run())
    await chat.push("hello", conversation_id="c1")
    [(request, reply)] = await chat.wait_for_replies(1)
    assert reply.text == "hello"
    await runtime.stop(); await task

It can also stream (``streaming=True``: the agent's ``context.stream`` chunks land in
``chunks``) and fail on purpose (:meth:`fail_next_sends`) to test an output's retries.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from agent_runner.connector import Accepted, BaseConnector, Sink
from agent_runner.errors import ConnectorError
from agent_runner.handover import Handover
from agent_runner.message import Message, Reply


class InMemoryConnector(BaseConnector):
    """Messages pushed by code in, replies kept in :attr:`sent`.

    Args:
        name: the connector's name (``message.source`` of what it pushes; replies to those
            messages come back here).
        streaming: show streamed chunks (then the agent's ``context.streaming`` is true and
            its chunks are appended to :attr:`chunks`).

    Attributes:
        sent: every ``(request, reply)`` delivered to this output, in delivery order.
        chunks: every ``(request, chunk)`` streamed to this output.

    Example:
        >>> chat = InMemoryConnector()
        >>> # runtime = AgentRuntime([chat], [chat], agent); task = create_task(runtime.run())
        >>> # await chat.push("hi", conversation_id="c1"); await chat.wait_for_replies(1)
    """

    name = "memory"

    def __init__(self, name: str = "memory", *, streaming: bool = False) -> None:
        super().__init__(name=name)
        self.sent: list[tuple[Message, Reply]] = []
        self.chunks: list[tuple[Message, str]] = []
        self._streaming = streaming
        self._sink: Sink | None = None
        self._handover: Handover | None = None
        self._ready = asyncio.Event()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        """(reply count awaited, its future) of each :meth:`wait_for_replies` waiting."""
        self._failures: list[BaseException | None] = []

    # -- input -----------------------------------------------------------------------
    async def run(self, sink: Sink) -> None:
        self._sink = sink
        self._handover = Handover(sink)
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            self._ready.clear()
            self._sink = None

    async def push(
        self,
        text: str = "hi",
        *,
        conversation_id: str = "c1",
        author_id: str = "user",
        id: str | None = None,
        wait: float = 5.0,
        **fields: Any,
    ) -> Accepted:
        """Push one message as this input and return once the runner journaled it.

        Args:
            text: the message text.
            conversation_id: the conversation it belongs to.
            author_id: the author's id (pass ``author={...}`` to set name and ``is_bot``).
            id: the message id (default: a fresh unique id).
            wait: how long to wait for the runner to start this input, seconds.
            **fields: any other :class:`~agent_runner.message.Message` field
                (``depth``, ``payment``, ``metadata``, ``reply_to``, ``author``...).

        Raises:
            InvalidMessageError: the message is invalid or refused by a loop guard.
            ConnectorError: the runner did not start this input within ``wait`` seconds.
        """
        data: dict[str, Any] = {
            "id": id if id is not None else uuid.uuid4().hex,
            "conversation_id": conversation_id,
            "source": self.name,
            "author": {"id": author_id},
            "text": text,
        }
        data.update(fields)
        return await self.push_raw(data, wait=wait)

    async def push_raw(self, data: Message | dict[str, Any], *, wait: float = 5.0) -> Accepted:
        """Push anything, as an input would (a Message or a mapping, valid or not)."""
        await self._started(wait)
        assert self._sink is not None
        return await self._sink(data)

    async def hand_over(
        self, data: Message | dict[str, Any], *, wait: float = 5.0
    ) -> asyncio.Future[Accepted]:
        """Push as a pipelined input does (a poll page, a gateway): return once the message
        is queued, before it is journaled, with a future of its :class:`Accepted`;
        :meth:`durable` waits until every message handed over so far is journaled."""
        await self._started(wait)
        assert self._handover is not None
        return await self._handover(data)

    async def durable(self) -> None:
        """Wait until every message given to :meth:`hand_over` is journaled (or raise)."""
        if self._handover is not None:
            await self._handover.durable()

    async def _started(self, wait: float) -> None:
        if self._sink is not None:
            return
        try:
            async with asyncio.timeout(wait):
                await self._ready.wait()
        except TimeoutError:
            raise ConnectorError(
                f"input {self.name!r} was not started by a runner within {wait}s"
            ) from None

    # -- output ----------------------------------------------------------------------
    async def send(self, request: Message, response: Reply) -> None:
        if self._failures:
            error = self._failures.pop(0)
            raise error or ConnectorError(f"{self.name}: injected send failure")
        self.sent.append((request, response))
        if self._waiters:  # wake only the waiters whose count is reached
            count, waiting = len(self.sent), self._waiters
            self._waiters = [(n, f) for n, f in waiting if n > count and not f.done()]
            for n, future in waiting:
                if n <= count and not future.done():
                    future.set_result(None)

    def fail_next_sends(self, count: int, error: BaseException | None = None) -> None:
        """Make the next ``count`` calls of :meth:`send` raise ``error``.

        The default error is a transient ``ConnectorError`` (the runner retries it); pass a
        :class:`~agent_runner.errors.DeliveryError` to make the runner give up at once.
        """
        self._failures.extend([error] * count)

    def wants_stream(self, request: Message) -> bool:
        return self._streaming

    async def send_chunk(self, request: Message, chunk: str) -> None:
        self.chunks.append((request, chunk))

    async def wait_for_replies(
        self,
        n: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - the agreed, test-friendly signature
    ) -> list[tuple[Message, Reply]]:
        """Wait until at least ``n`` replies were sent here; return all sent so far (a copy).

        Raises:
            TimeoutError: fewer than ``n`` arrived within ``timeout`` seconds.
        """
        if len(self.sent) >= n:
            return list(self.sent)
        reached: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((n, reached))
        try:
            async with asyncio.timeout(timeout):
                await reached
        except TimeoutError:
            raise TimeoutError(
                f"{self.name}: {len(self.sent)} of {n} replies arrived within {timeout}s"
            ) from None
        return list(self.sent)

    def replies_to(self, conversation_id: str) -> list[str]:
        """The texts of the replies sent to ``conversation_id``, in delivery order."""
        return [r.text for m, r in self.sent if m.conversation_id == conversation_id]


__all__ = ["InMemoryConnector"]
