"""TopicId: the scope of a published message, ``type/source``."""

from __future__ import annotations

import builtins
import re
from typing import Any, Self

_TOPIC_TYPE_RE = re.compile(r"^[\w\-\.\:\=]+\Z")


def is_valid_topic_type(value: str) -> bool:
    """Whether ``value`` is a valid topic type (letters, digits, ``_ - . : =``)."""
    return bool(_TOPIC_TYPE_RE.match(value))


class TopicId:
    """The scope of a broadcast: published messages go to the subscribers of a topic.

    Frozen and hashable, like a frozen dataclass with fields ``type`` and ``source``
    (CloudEvents naming). ``str(TopicId("news", "x")) == "news/x"``; :meth:`from_str` parses it.

    Args:
        type: The kind of event; must match ``^[\\w\\-\\.\\:\\=]+\\Z``.
        source: The context the event happened in (often the key of the agents to reach).

    Example::

        await runtime.publish_message(Progress(0.5), TopicId("progress", "task-1"))
    """

    __slots__ = ("_hash", "source", "type")

    type: str
    source: str
    _hash: int

    def __init__(self, type: str, source: str) -> None:
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "_hash", hash((type, source)))
        self.__post_init__()

    def __post_init__(self) -> None:
        if not _TOPIC_TYPE_RE.match(self.type):
            raise ValueError(
                f"Invalid topic type: {self.type}. Must match the pattern: ^[\\w\\-\\.\\:\\=]+\\Z"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("TopicId is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("TopicId is immutable")

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, TopicId):
            return NotImplemented
        return self._hash == other._hash and self.type == other.type and self.source == other.source

    def __str__(self) -> str:
        return f"{self.type}/{self.source}"

    def __repr__(self) -> str:
        return f"TopicId(type={self.type!r}, source={self.source!r})"

    def __reduce__(self) -> tuple[builtins.type[TopicId], tuple[str, str]]:
        return (TopicId, (self.type, self.source))

    @classmethod
    def from_str(cls, topic_id: str) -> Self:
        """Parse ``"type/source"`` (the source may itself contain ``/``)."""
        items = topic_id.split("/", maxsplit=1)
        if len(items) != 2:
            raise ValueError(f"Invalid topic id: {topic_id}")
        return cls(items[0], items[1])


__all__ = ["TopicId", "is_valid_topic_type"]
