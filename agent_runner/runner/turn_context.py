"""What an agent's context is made of besides the message: the logger tagged with the
message key, the memory of a runner without short-term memory (and the history a stateless
client sends), and streaming to the output the message came from."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from agent_runner.agent import ConversationMemory
from agent_runner.message import HISTORY_KEY, Message
from agent_runner.store import MemoryItem, Role

if TYPE_CHECKING:
    from agent_runner.connector import StreamingOutput


class KeyedLogger(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every line with the message key: ``[discord:123] looked up the weather``."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        return f"[{(self.extra or {}).get('message_key')}] {msg}", kwargs


_HISTORY_ROLES: dict[object, Literal["user", "assistant", "system"]] = {
    "user": "user",
    "assistant": "assistant",
    "system": "system",
}


async def seed_history(memory: ConversationMemory, message: Message) -> None:
    """The earlier turns a stateless client sent (``HISTORY_KEY``), into an empty memory."""
    history = message.metadata.get(HISTORY_KEY)
    if not isinstance(history, list) or memory.messages:
        return
    for turn in history:
        role = turn.get("role") if isinstance(turn, dict) else None
        content = turn.get("content") if isinstance(turn, dict) else None
        if isinstance(content, str) and role in _HISTORY_ROLES:
            await memory.add(_HISTORY_ROLES[role], content)


class NoMemory:
    """The memory an agent gets when the runner has no ``short_term_memory``: always empty."""

    def __init__(self, conversation_key: str) -> None:
        self._key = conversation_key

    @property
    def conversation_key(self) -> str:
        return self._key

    @property
    def messages(self) -> Sequence[MemoryItem]:
        return ()

    async def add(
        self,
        role: Role,
        text: str,
        *,
        name: str | None = None,
        message_key: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        return None


StreamLookup = Callable[[Message], Callable[[str], Awaitable[None]] | None]
"""Given a message, the function that streams a chunk to its output (or None: no streaming)."""


def stream_lookup(outputs: Mapping[str, StreamingOutput]) -> StreamLookup:
    """Stream to the message's source output when it is a streaming one that wants it."""

    def lookup(message: Message) -> Callable[[str], Awaitable[None]] | None:
        output = outputs.get(message.source)
        if output is None or not output.wants_stream(message):
            return None

        async def stream(chunk: str) -> None:
            await output.send_chunk(message, chunk)

        return stream

    return lookup


__all__ = ["KeyedLogger", "NoMemory", "StreamLookup", "seed_history", "stream_lookup"]
