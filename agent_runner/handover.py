"""Pipelined hand-over: an input that need not wait for a commit per message.

An input whose acknowledgement nobody outside sees (a gateway event, a poll page, a cron
firing) hands messages over through a :class:`Handover`: ``await handover(fields)`` returns
once the message is checked and in its conversation's queue, before it is journaled; at the
end of a batch ``await handover.durable()`` waits until every message handed over so far is
journaled, and only then does the input move its cursor. A crash in between loses nothing:
the cursor did not move, the batch is read again and the journal drops what it already has.
The runner's sink is a :class:`PipelinedSink`; any other sink (a test's function) is awaited
per message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from agent_runner.connector import Accepted, Sink
from agent_runner.errors import ConnectorError
from agent_runner.message import Message


@runtime_checkable
class PipelinedSink(Protocol):
    """A sink that can also take a message without waiting for the journal (the runner's)."""

    async def __call__(self, message: Message | Mapping[str, Any], /) -> Accepted: ...

    async def hand_over(self, message: Message | Mapping[str, Any], /) -> asyncio.Future[Accepted]:
        """Check ``message`` and queue it in its place; return once it is queued (after
        waiting for room), with a future that resolves once it is journaled.

        Raises as the sink does for invalid or refused input; a journal failure (or a
        runner that stopped first) is raised by the future instead.
        """
        ...


class Handover:
    """One input's pipelined hand-over to ``sink`` (see the module doc).

    ``await handover(message)`` hands one message over and returns a future of its
    :class:`Accepted`; ``await handover.durable()`` waits until every message handed over
    since the last call is journaled and raises the first failure (the input should then
    not move its cursor: raising restarts it, and it reads the batch again). On a sink
    without ``hand_over`` each call awaits the sink.

    Example:
        ::

            handover = Handover(sink)
            for update in await poll(offset):
                await handover(fields_of(update))
            await handover.durable()
            await store.cursor_set("offset", str(next_offset))
    """

    __slots__ = ("_sink", "_hand_over", "_inflight")

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._hand_over = getattr(sink, "hand_over", None)
        self._inflight: list[asyncio.Future[Accepted]] = []

    async def __call__(self, message: Message | Mapping[str, Any], /) -> asyncio.Future[Accepted]:
        if self._hand_over is None:
            done: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
            done.set_result(await self._sink(message))
            return done
        future: asyncio.Future[Accepted] = await self._hand_over(message)
        self._inflight.append(future)
        return future

    @property
    def pending(self) -> int:
        """Messages handed over and not yet known to be journaled."""
        return len(self._inflight)

    async def durable(self) -> None:
        """Wait until every message handed over so far is journaled (or raise why not)."""
        inflight, self._inflight = self._inflight, []
        failure: BaseException | None = None
        for future in inflight:
            try:
                await future
            except asyncio.CancelledError:
                if not future.cancelled():
                    raise  # this task was cancelled
                failure = failure or ConnectorError("the runner stopped before journaling")
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure


__all__ = ["Handover", "PipelinedSink"]
