"""AgentId: the address of one agent instance, ``type/key``."""

from __future__ import annotations

import re
from operator import itemgetter
from typing import TYPE_CHECKING, Self

from agent_runner.core._agent_type import AgentType

_AGENT_TYPE_RE = re.compile(r"^[\w\-\.]+\Z")


def is_valid_agent_type(value: str) -> bool:
    """Whether ``value`` is a valid agent type (letters, digits, ``_``, ``-``, ``.``)."""
    return bool(_AGENT_TYPE_RE.match(value))


_VALID_TYPES: set[str] = set()


class AgentId(tuple[str, str]):
    """Identifies one agent instance in a runtime (also across workers): ``type/key``.

    Frozen and hashable; ``str(AgentId("worker", "k1")) == "worker/k1"`` and
    :meth:`from_str` parses it back. It is a 2-tuple ``(type, key)`` underneath (so hashing
    and comparing cost no Python code on the runtime's hot path); it equals the plain tuple
    ``(type, key)``.

    Args:
        type: The agent type (``str`` or :class:`AgentType`); must match ``^[\\w\\-\\.]+\\Z``.
        key: The instance key within the type (any string).

    Example::

        worker = AgentId("worker", "default")
        assert AgentId.from_str(str(worker)) == worker
    """

    __slots__ = ()

    def __new__(cls, type: str | AgentType, key: str) -> Self:
        if type.__class__ is not str:
            if isinstance(type, AgentType):
                type = type.type
            elif not isinstance(type, str):
                raise TypeError(f"Agent type must be a str or AgentType, not {type!r}")
        if type not in _VALID_TYPES:
            if not _AGENT_TYPE_RE.match(type):
                raise ValueError(
                    f"Invalid agent type: {type}. "
                    "Allowed values MUST match the regex: `^[\\w\\-\\.]+\\Z`"
                )
            if len(_VALID_TYPES) < 4096:
                _VALID_TYPES.add(type)
        if not isinstance(key, str):
            raise TypeError(f"Agent key must be a str, not {key!r}")
        return tuple.__new__(cls, (type, key))

    def __getnewargs__(self) -> tuple[str, str]:
        return (self[0], self[1])

    def __str__(self) -> str:
        return f"{self[0]}/{self[1]}"

    def __repr__(self) -> str:
        return f'AgentId(type="{self[0]}", key="{self[1]}")'

    @classmethod
    def from_str(cls, agent_id: str) -> Self:
        """Parse ``"type/key"`` (the key may itself contain ``/``)."""
        items = agent_id.split("/", maxsplit=1)
        if len(items) != 2:
            raise ValueError(f"Invalid agent id: {agent_id}")
        return cls(items[0], items[1])

    if TYPE_CHECKING:

        @property
        def type(self) -> str:
            """The agent type: which factory creates this instance."""
            ...

        @property
        def key(self) -> str:
            """The instance key within its type."""
            ...

    else:
        type = property(itemgetter(0), doc="The agent type: which factory creates this instance.")
        key = property(itemgetter(1), doc="The instance key within its type.")


__all__ = ["AgentId", "is_valid_agent_type"]
