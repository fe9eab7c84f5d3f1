"""Short-term memory: the recent turns of one conversation, bounded and persisted.

Give the runner a :class:`ShortTermMemory`; it loads one :class:`ConversationView` per
conversation (never shared between conversations) and hands it to the agent as
``context.memory``. Turns are stored in the runner's :class:`~agent_runner.store.Store`, so
a restart keeps the context::

    runtime = AgentRuntime(inputs, outputs, agent,
                           short_term_memory=ShortTermMemory(max_messages=30, max_tokens=3000))

Token counting works offline. The default, :func:`estimate_tokens`, is a fast estimate; a real
tokenizer plugs in through ``token_counter`` (any ``Callable[[str], int]``)::

    import tiktoken                                   # not a dependency of agent-runner
    encoding = tiktoken.get_encoding("o200k_base")    # load it once, at startup
    memory = ShortTermMemory(token_counter=lambda text: len(encoding.encode(text)))
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

from agent_runner.errors import ConfigurationError
from agent_runner.store import MemoryItem, Role, Store

_PIECES = re.compile(r"\w+|[^\w\s]")


def estimate_tokens(text: str) -> int:
    """Estimate how many tokens ``text`` takes in a BPE tokenizer (offline, no tables).

    Method: BPE tokenizers average about 4 characters of English per token, but never
    fewer tokens than there are words and punctuation marks (each is at least one token).
    So the estimate, over the ASCII characters, is ``max(ceil(chars / 4), words +
    punctuation marks)``, plus one token per non-ASCII character (CJK and emoji take about
    one token or more per character). It errs on the high side, the safe side for context
    and budget limits (for English prose, roughly 1.1-1.4 times a BPE tokenizer's count).

    Example:
        >>> estimate_tokens("Hello, world!")
        4
        >>> estimate_tokens("")
        0
    """
    if not text:
        return 0
    if text.isascii():
        return max(math.ceil(len(text) / 4), len(_PIECES.findall(text)))
    ascii_text = text.encode("ascii", "ignore").decode("ascii")
    non_ascii = len(text) - len(ascii_text)
    ascii_part = max(math.ceil(len(ascii_text) / 4), len(_PIECES.findall(ascii_text)))
    return ascii_part + non_ascii


def trim_to_budget(
    items: Sequence[MemoryItem], *, max_messages: int, max_tokens: int | None
) -> list[MemoryItem]:
    """The newest items that fit both bounds, oldest first.

    Items are dropped whole, oldest first; an item larger than ``max_tokens`` on its own is
    dropped too, and so is everything older than it (the kept turns stay contiguous).

    Examples:
        >>> items = [MemoryItem(role="user", text=t, tokens=n) for t, n in [("a", 5), ("b", 3)]]
        >>> [i.text for i in trim_to_budget(items, max_messages=10, max_tokens=4)]
        ['b']
    """
    if max_messages <= 0:
        return []
    newest = list(items[-max_messages:])
    if max_tokens is None:
        return newest
    total = 0
    start = len(newest)
    for index in range(len(newest) - 1, -1, -1):
        total += newest[index].tokens
        if total > max_tokens:
            break
        start = index
    return newest[start:]


class ConversationView:
    """The short-term memory of one conversation (a :class:`ConversationMemory`).

    ``messages`` holds the earlier turns, oldest first, within the memory's bounds;
    :meth:`add` appends a turn and persists it. Obtain one with :meth:`ShortTermMemory.load`.
    Bookkeeping is O(1) per turn: a running token total, and the keys of the messages whose
    turns are kept (:meth:`has_turn`).
    """

    def __init__(
        self,
        memory: ShortTermMemory,
        store: Store,
        conversation_key: str,
        items: Sequence[MemoryItem],
    ) -> None:
        self._memory = memory
        self._store = store
        self._conversation_key = conversation_key
        self._items: deque[MemoryItem] = deque()
        self._tokens = 0
        self._keys: Counter[str] = Counter()
        self._snapshot: tuple[MemoryItem, ...] | None = None
        self._keep(memory.trim(items))

    @property
    def conversation_key(self) -> str:
        return self._conversation_key

    @property
    def messages(self) -> Sequence[MemoryItem]:
        """Earlier turns, oldest first (a snapshot: later :meth:`add` calls do not change it)."""
        if self._snapshot is None:
            self._snapshot = tuple(self._items)
        return self._snapshot

    @property
    def tokens(self) -> int:
        """The token count of :attr:`messages`."""
        return self._tokens

    def has_turn(self, message_key: str) -> bool:
        """Whether a kept turn belongs to the message ``message_key``."""
        return message_key in self._keys

    async def add(
        self,
        role: Role,
        text: str,
        *,
        name: str | None = None,
        message_key: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Remember a turn: counted, kept within bounds, persisted in the store.

        Args:
            role: ``"user"``, ``"assistant"``, ``"system"`` or ``"tool"``.
            text: the content.
            name: who said it (a user name, a tool name).
            message_key: the key of the message this turn belongs to, if any.
            meta: extra JSON values to keep with the turn.
        """
        await self.add_many([(role, text, name, meta)], message_key=message_key)

    async def add_many(
        self,
        turns: Sequence[tuple[Role, str, str | None, dict[str, Any] | None]],
        *,
        message_key: str | None = None,
    ) -> None:
        """Remember several turns, ``(role, text, name, meta)`` each, with one store write."""
        memory, now = self._memory, self._memory.clock()
        items = [
            MemoryItem(role, text, name, message_key, now, memory.count(text), dict(meta or {}))
            for role, text, name, meta in turns
        ]
        await self._store.memory_append(self._conversation_key, items, keep=memory.max_messages)
        self._keep(items)

    def _keep(self, items: Sequence[MemoryItem]) -> None:
        """Append ``items``, then drop the oldest until both bounds hold (as
        :func:`trim_to_budget` would)."""
        kept, keys = self._items, self._keys
        for item in items:
            kept.append(item)
            self._tokens += item.tokens
            if item.message_key is not None:
                keys[item.message_key] += 1
        max_messages, max_tokens = self._memory.max_messages, self._memory.max_tokens
        while kept and (
            len(kept) > max_messages or (max_tokens is not None and self._tokens > max_tokens)
        ):
            dropped = kept.popleft()
            self._tokens -= dropped.tokens
            if dropped.message_key is not None:
                keys[dropped.message_key] -= 1
                if not keys[dropped.message_key]:
                    del keys[dropped.message_key]
        self._snapshot = None


class ShortTermMemory:
    """Per-conversation memory of recent turns, bounded by message count and by tokens.

    Args:
        max_messages: how many turns to keep per conversation (the store keeps no more).
        max_tokens: the most tokens :attr:`ConversationView.messages` may hold (oldest turns
            are left out first); None for no token bound.
        token_counter: counts the tokens of a text; defaults to :func:`estimate_tokens`.
            Pass a real tokenizer for exact counts (see the module docstring).
        clock: the time source for ``created_at`` (Unix seconds).

    Example:
        >>> memory = ShortTermMemory(max_messages=20, max_tokens=2000)
        >>> # view = await memory.load(store, "discord:channel-1")
        >>> # await view.add("user", "hello"); view.messages[-1].text == "hello"
    """

    def __init__(
        self,
        *,
        max_messages: int = 50,
        max_tokens: int | None = 4000,
        token_counter: Callable[[str], int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_messages < 1:
            raise ConfigurationError(f"max_messages must be at least 1, not {max_messages}")
        if max_tokens is not None and max_tokens < 1:
            raise ConfigurationError(f"max_tokens must be at least 1 or None, not {max_tokens}")
        self.max_messages = max_messages
        self.max_tokens = max_tokens
        self.token_counter = token_counter or estimate_tokens
        self.clock = clock

    def count(self, text: str) -> int:
        """The token count of ``text`` by this memory's counter."""
        return max(0, int(self.token_counter(text)))

    def trim(self, items: Sequence[MemoryItem]) -> list[MemoryItem]:
        """``items`` cut to this memory's bounds (newest kept, oldest first)."""
        return trim_to_budget(items, max_messages=self.max_messages, max_tokens=self.max_tokens)

    async def load(self, store: Store, conversation_key: str) -> ConversationView:
        """Load the memory of one conversation from ``store``.

        Items stored without a token count (``tokens == 0`` and non-empty text) are counted
        now with this memory's counter.
        """
        items = await store.memory_load(conversation_key, self.max_messages)
        counted = [
            item
            if item.tokens or not item.text
            else MemoryItem(
                role=item.role,
                text=item.text,
                name=item.name,
                message_key=item.message_key,
                created_at=item.created_at,
                tokens=self.count(item.text),
                meta=item.meta,
            )
            for item in items
        ]
        return ConversationView(self, store, conversation_key, counted)


__all__ = ["ConversationView", "ShortTermMemory", "estimate_tokens", "trim_to_budget"]
