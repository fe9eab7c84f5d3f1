"""Long-term memory (a model context store): facts and conversation snippets recalled by meaning.

::

    memory = LongTermMemory(SQLiteMemoryStore("data/memory.sqlite3"), HashingEmbedder())
    await memory.remember(MemoryScope.user("discord", "42"), "Ada prefers tea", author=...)
    found = await memory.recall("what does Ada drink?", [MemoryScope.user("discord", "42")])

Every record belongs to one scope (a user, a conversation, or a scope the operator shares);
:meth:`LongTermMemory.recall` searches only the scopes it is given, each on its own, so one
user's facts never surface for another unless the operator shares them
(``LongTermMemory(shared=[MemoryScope.shared("team")])`` adds that scope to every
:meth:`~LongTermMemory.scopes_for`). Retention is part of the contract: at most
``max_items_per_scope`` records per scope (oldest out) and none older than ``max_age``
seconds; :meth:`~LongTermMemory.forget`, :meth:`~LongTermMemory.forget_item` and
:meth:`~LongTermMemory.forget_user` delete.

Backends: :class:`~agent_runner.memory.SQLiteMemoryStore` (embedded default) and
:class:`~agent_runner.memory.RedisMemoryStore` (shared by workers); both search exactly
(cosine) within a scope (see :mod:`agent_runner.memory.search`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from agent_runner.memory.embedders import Embedder
from agent_runner.memory.records import MemoryRecord, MemoryScope, Recalled, RecordKind
from agent_runner.memory.search import to_bytes
from agent_runner.message import Message

ScopeLike = MemoryScope | str


@runtime_checkable
class MemoryBackend(Protocol):
    """Where long-term memory keeps its records and vectors (float32 bytes, unit length)."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def add(
        self, record: MemoryRecord, vector: bytes, *, max_items: int | None, since: float | None
    ) -> int:
        """Store the record; then drop the scope's records created before ``since`` and the
        oldest beyond ``max_items``, in the same transaction. Return how many were dropped."""
        ...

    async def search(
        self, scope: str, vector: bytes, k: int, *, since: float | None
    ) -> list[Recalled]:
        """The ``k`` records of ``scope`` most similar to ``vector`` (none older than
        ``since``), most similar first."""
        ...

    async def delete(self, scope: str, record_id: str) -> bool:
        """Delete one record; False when it was not there."""
        ...

    async def forget_scope(self, scope: str) -> int:
        """Delete every record of a scope; return how many."""
        ...

    async def forget_author(self, author: str) -> int:
        """Delete every record written by ``author``, in any scope; return how many."""
        ...

    async def count(self, scope: str) -> int:
        """How many records the scope holds."""
        ...


class LongTermMemory:
    """Facts and snippets per scope, recalled by meaning.

    Args:
        backend: a :class:`MemoryBackend` (SQLite or Redis).
        embedder: an :class:`~agent_runner.memory.Embedder`.
        max_items_per_scope: the most records a scope keeps (the oldest go first).
        max_age: seconds a record is kept (None: no age limit).
        shared: scopes the operator shares with everyone (added by :meth:`scopes_for`).
        min_score: the least cosine similarity a recalled record must have.
        clock: the time source (Unix seconds).
    """

    def __init__(
        self,
        backend: MemoryBackend,
        embedder: Embedder,
        *,
        max_items_per_scope: int = 1000,
        max_age: float | None = None,
        shared: Sequence[MemoryScope] = (),
        min_score: float = 0.1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_items_per_scope < 1:
            raise ValueError("max_items_per_scope must be >= 1")
        if max_age is not None and max_age <= 0:
            raise ValueError("max_age must be positive or None")
        self.backend = backend
        self.embedder = embedder
        self.max_items_per_scope = max_items_per_scope
        self.max_age = max_age
        self.shared = tuple(shared)
        self.min_score = min_score
        self.clock = clock

    async def open(self) -> None:
        await self.backend.open()

    async def close(self) -> None:
        await self.backend.close()

    async def __aenter__(self) -> LongTermMemory:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def scopes_for(self, message: Message) -> list[MemoryScope]:
        """The scopes a message may see: its author's, its conversation's, the shared ones."""
        return [
            MemoryScope.user(message.source, message.author.id),
            MemoryScope.conversation(message.conversation_key),
            *self.shared,
        ]

    async def remember(
        self,
        scope: ScopeLike,
        text: str,
        *,
        kind: RecordKind = "fact",
        author: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> MemoryRecord:
        """Store ``text`` in ``scope`` (retention applied at once) and return the record.

        Args:
            scope: where it belongs.
            text: the fact or snippet.
            kind: ``"fact"`` or ``"snippet"``.
            author: the user it came from (``source:user_id``), so that
                :meth:`forget_user` finds it in every scope.
            meta: extra JSON values kept with it.
        """
        text = text.strip()
        if not text:
            raise ValueError("nothing to remember: the text is empty")
        record = MemoryRecord(
            id=uuid.uuid4().hex,
            scope=str(_scope(scope)),
            text=text,
            kind=kind,
            author=author,
            created_at=self.clock(),
            meta=dict(meta or {}),
        )
        [vector] = await self.embedder.embed([text])
        await self.backend.add(
            record, to_bytes(vector), max_items=self.max_items_per_scope, since=self._since()
        )
        return record

    async def recall(
        self, query: str, scopes: Sequence[ScopeLike], *, k: int = 5, min_score: float | None = None
    ) -> list[Recalled]:
        """The ``k`` records most similar to ``query`` across ``scopes`` (each searched on
        its own, nothing else searched), most similar first."""
        if not scopes or not query.strip() or k < 1:
            return []
        [vector] = await self.embedder.embed([query])
        packed = to_bytes(vector)
        floor = self.min_score if min_score is None else min_score
        found: list[Recalled] = []
        for scope in dict.fromkeys(str(_scope(s)) for s in scopes):
            found += await self.backend.search(scope, packed, k, since=self._since())
        found = [item for item in found if item.score >= floor]
        found.sort(key=lambda item: item.score, reverse=True)
        return found[:k]

    async def forget(self, scope: ScopeLike) -> int:
        """Delete everything in a scope; return how many records."""
        return await self.backend.forget_scope(str(_scope(scope)))

    async def forget_item(self, scope: ScopeLike, record_id: str) -> bool:
        """Delete one record; False when it was not there."""
        return await self.backend.delete(str(_scope(scope)), record_id)

    async def forget_user(self, source: str, user_id: str) -> int:
        """ "Forget this user": their scope and everything they authored in any other scope."""
        scope = MemoryScope.user(source, user_id)
        return await self.forget(scope) + await self.backend.forget_author(scope.id)

    async def count(self, scope: ScopeLike) -> int:
        return await self.backend.count(str(_scope(scope)))

    def _since(self) -> float | None:
        return None if self.max_age is None else self.clock() - self.max_age


def _scope(scope: ScopeLike) -> MemoryScope:
    return scope if isinstance(scope, MemoryScope) else MemoryScope.parse(scope)


__all__ = ["LongTermMemory", "MemoryBackend", "ScopeLike"]
