"""The values of long-term memory: scopes, remembered records, recalled results."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

ScopeKind = Literal["user", "conversation", "shared"]
RecordKind = Literal["fact", "snippet"]

_ID = re.compile(r"^[^\s\x00]{1,200}$")


@dataclass(frozen=True, slots=True)
class MemoryScope:
    """Whose memory: one user, one conversation, or a scope the operator shares.

    Recall searches the scopes it is given and nothing else: a user's facts never surface
    for another user unless the operator puts them in a ``shared`` scope and shares it.

    Example:
        >>> str(MemoryScope.user("discord", "42"))
        'user:discord:42'
        >>> MemoryScope.parse("conversation:http:me") == MemoryScope("conversation", "http:me")
        True
    """

    kind: ScopeKind
    id: str

    def __post_init__(self) -> None:
        if self.kind not in ("user", "conversation", "shared"):
            raise ValueError(f"scope kind must be user, conversation or shared: {self.kind!r}")
        if not _ID.match(self.id):
            raise ValueError(f"scope id must be 1-200 characters without spaces: {self.id!r}")

    @classmethod
    def user(cls, source: str, user_id: str) -> MemoryScope:
        """The scope of one user of one platform (``source`` is the connector's name)."""
        return cls("user", f"{source}:{user_id}")

    @classmethod
    def conversation(cls, conversation_key: str) -> MemoryScope:
        """The scope of one conversation (its ``Message.conversation_key``)."""
        return cls("conversation", conversation_key)

    @classmethod
    def shared(cls, name: str) -> MemoryScope:
        """A scope the operator shares (e.g. the team's facts)."""
        return cls("shared", name)

    @classmethod
    def parse(cls, text: str) -> MemoryScope:
        """The scope written as ``kind:id``."""
        kind, _, ident = text.partition(":")
        return cls(kind, ident)  # type: ignore[arg-type]  # checked in __post_init__

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    """One remembered fact or conversation snippet.

    Attributes:
        id: unique within the memory.
        scope: the scope it belongs to, as text (``str(MemoryScope)``).
        text: what is remembered.
        kind: ``"fact"`` or ``"snippet"`` (a piece of a past conversation).
        author: the user it came from (``source:user_id``), for "forget this user".
        created_at: Unix seconds.
        meta: extra JSON values.
    """

    id: str
    scope: str
    text: str
    kind: RecordKind = "fact"
    author: str | None = None
    created_at: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Recalled:
    """A record found by :meth:`~agent_runner.memory.LongTermMemory.recall` and its cosine
    similarity to the query (1.0: the same direction)."""

    record: MemoryRecord
    score: float


__all__ = ["MemoryRecord", "MemoryScope", "Recalled", "RecordKind", "ScopeKind"]
