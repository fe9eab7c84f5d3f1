"""Watermarks: the last message each hosted agent handled in its turn order.

They live in this worker's memory and in the hash ``{prefix}:seen:{type}`` (field: the agent
key, value: ``"ms-seq:index"``). A replayed message (claimed from a dead worker, or re-read
after a restart) at or below its agent's watermark was handled before and is skipped, so a
crash re-delivers only the messages whose mark was not yet written.
"""

from __future__ import annotations

from agent_runner.core import AgentId
from agent_runner.distributed._outbox import Outbox
from agent_runner.distributed._stream_message import Mark, StreamMessage, format_mark, parse_mark
from agent_runner.distributed._wire import Keys


class Watermarks:
    """Per-agent watermarks of one worker, read from Redis on first need."""

    __slots__ = ("_keys", "_marks", "_outbox")

    def __init__(self, outbox: Outbox, keys: Keys) -> None:
        self._outbox = outbox
        self._keys = keys
        self._marks: dict[AgentId, Mark] = {}

    async def handled_before(self, agent_id: AgentId, message: StreamMessage) -> bool:
        """Whether the agent's watermark shows this (replayed) message already handled."""
        mark = self._marks.get(agent_id)
        if mark is None:
            raw = await self._outbox.call("HGET", self._keys.seen(agent_id.type), agent_id.key)
            mark = parse_mark(raw) if raw is not None else None
            if mark is None:
                return False
            self._marks[agent_id] = mark
        return message.mark <= mark

    def advance(self, agent_id: AgentId, mark: Mark) -> None:
        """The agent handled the message at ``mark`` (in turn order)."""
        self._marks[agent_id] = mark

    def forget(self, agent_id: AgentId) -> None:
        """The agent left this worker: its watermark is re-read if it comes back."""
        self._marks.pop(agent_id, None)

    def stored(self, agent_id: AgentId, mark: Mark) -> tuple[str, str, str]:
        """``(key, field, value)`` of the ``HSET`` that stores ``mark`` for the agent."""
        return (self._keys.seen(agent_id.type), agent_id.key, format_mark(mark))


__all__ = ["Watermarks"]
