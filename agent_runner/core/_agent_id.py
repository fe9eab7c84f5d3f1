"""AgentId: the address of one agent instance, ``type/key``."""

from __future__ import annotations

import builtins
import re
from typing import Any, Self

from agent_runner.core._agent_type import AgentType

_AGENT_TYPE_RE = re.compile(r"^[\w\-\.]+\Z")


def is_valid_agent_type(value: str) -> bool:
    """Whether ``value`` is a valid agent type (letters, digits, ``_``, ``-``, ``.``)."""
    return bool(_AGENT_TYPE_RE.match(value))


class AgentId:
    """Identifies one agent instance in a runtime (also across workers): ``type/key``.

    Frozen and hashable; ``str(AgentId("worker", "k1")) == "worker/k1"`` and
    :meth:`from_str` parses it back.

    Args:
        type: The agent type (``str`` or :class:`AgentType`); must match ``^[\\w\\-\\.]+\\Z``.
        key: The instance key within the type (any string).

    Example::

        worker = AgentId("worker", "default")
        assert AgentId.from_str(str(worker)) == worker
    """

    __slots__ = ("_hash", "_key", "_type")

    _type: str
    _key: str
    _hash: int

    def __init__(self, type: str | AgentType, key: str) -> None:
        if isinstance(type, AgentType):
            type = type.type
        if not _AGENT_TYPE_RE.match(type):
            raise ValueError(
                f"Invalid agent type: {type}. "
                "Allowed values MUST match the regex: `^[\\w\\-\\.]+\\Z`"
            )
        object.__setattr__(self, "_type", type)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_hash", hash((type, key)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("AgentId is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("AgentId is immutable")

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, value: object) -> bool:
        if self is value:
            return True
        if not isinstance(value, AgentId):
            return False
        return self._hash == value._hash and self._type == value._type and self._key == value._key

    def __str__(self) -> str:
        return f"{self._type}/{self._key}"

    def __repr__(self) -> str:
        return f'AgentId(type="{self._type}", key="{self._key}")'

    def __reduce__(self) -> tuple[builtins.type[AgentId], tuple[str, str]]:
        return (AgentId, (self._type, self._key))

    @classmethod
    def from_str(cls, agent_id: str) -> Self:
        """Parse ``"type/key"`` (the key may itself contain ``/``)."""
        items = agent_id.split("/", maxsplit=1)
        if len(items) != 2:
            raise ValueError(f"Invalid agent id: {agent_id}")
        return cls(items[0], items[1])

    @property
    def type(self) -> str:
        """The agent type: which factory creates this instance."""
        return self._type

    @property
    def key(self) -> str:
        """The instance key within its type."""
        return self._key


__all__ = ["AgentId", "is_valid_agent_type"]
