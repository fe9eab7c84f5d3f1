"""The runner's operations hooks: what happened, told to whoever measures it.

The runner calls an :class:`Operations` at each step of a message's life: received or
refused at the sink, the agent's turn done, the message handled (or failed), each reply's
outcome, each model call a meter recorded, each connector's state. The operator endpoint's
metrics (:mod:`agent_runner.observability`) implement it; with the endpoint off the runner
has no hooks at all (``None``), so a message pays nothing for them.

Labels stay bounded: a connector name, an outcome, a model name, a refusal code from
:data:`REFUSAL_CODES` (never a conversation id or message text).

Example:
    >>> class Printer:  # any object with these methods is an Operations
    ...     def message_received(self, source: str) -> None: ...
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from agent_runner.agent import CostMeter
from agent_runner.connector import ConnectorState
from agent_runner.errors import InvalidMessageError, StoreError
from agent_runner.message import Message
from agent_runner.pricing import NullMeter
from agent_runner.runner.guards import RefusedMessageError

REFUSAL_CODES = ("invalid", "ignored_author", "bot", "too_deep", "not_accepting", "store")
"""The ``reason`` label values of refused messages."""


class Operations(Protocol):
    """What the runner tells its operator side; every method is quick and never raises."""

    def message_received(self, source: str) -> None:
        """A message reached the sink (before validation)."""

    def message_refused(self, source: str, reason: str) -> None:
        """The sink refused a message; ``reason`` is one of :data:`REFUSAL_CODES`."""

    def message_duplicate(self, source: str) -> None:
        """A message the journal had already (not handled again)."""

    def message_handled(
        self, message: Message, outcome: str, began: float, ended: float, turn: float
    ) -> None:
        """A message's turn ran and its replies went out (``outcome`` of the turn:
        ``ok``, ``error``, ``timeout``, ``budget``, ``payment``); ``began`` and ``ended`` are
        the :data:`clock`'s readings when it reached the head of its mailbox and when its
        replies were out, ``turn`` the seconds its conversation turn took (as
        :meth:`agent_finished` tells them where no mailbox times the turns: a worker). The
        mailbox's own readings: no other clock is read per message."""

    def message_failed(self, source: str) -> None:
        """Handling a message raised; it stays journaled for the next start."""

    def agent_finished(self, outcome: str, seconds: float) -> None:
        """A conversation turn (payment, budget, the agent) took ``seconds`` (on a worker)."""

    def model_call(self, model: str, input_tokens: int, output_tokens: int, cost: float) -> None:
        """A model call a cost meter recorded."""

    def connector_state(self, name: str, state: ConnectorState) -> None:
        """A connector's state changed, or it made progress (an event, a finished poll)."""

    def input_crashed(self, name: str, failures: int) -> None:
        """An input raised; ``failures`` in a row (the runner restarts it with backoff)."""


def refusal_code(exc: Exception) -> str:
    """The bounded label of a sink refusal (one of :data:`REFUSAL_CODES`)."""
    if isinstance(exc, RefusedMessageError):
        reason = exc.reason
        if "is ignored" in reason:
            return "ignored_author"
        if "is a bot" in reason:
            return "bot"
        return "too_deep"
    if isinstance(exc, InvalidMessageError):
        return "invalid"
    if isinstance(exc, StoreError):
        return "store"
    return "not_accepting"


MAX_LABEL_LENGTH = 64
"""A longer ``source`` is labelled ``unknown`` (labels stay short and bounded)."""


def source_label(data: object) -> str:
    """The ``source`` label of a message, or of a mapping not yet validated (``unknown`` if
    it has none, or one longer than :data:`MAX_LABEL_LENGTH`)."""
    # A plain dict first (isinstance of a pydantic model or of the Mapping ABC costs more
    # than the rest of this function).
    if type(data) is dict:
        source = data.get("source")
    elif isinstance(data, Message):
        source = data.source
    else:
        source = data.get("source") if isinstance(data, Mapping) else None
    return source if isinstance(source, str) and 0 < len(source) <= MAX_LABEL_LENGTH else "unknown"


class CountingMeter:
    """A cost meter that also tells ``operations`` of each model call it records."""

    __slots__ = ("_meter", "_operations")

    def __init__(self, meter: CostMeter, operations: Operations) -> None:
        self._meter = meter
        self._operations = operations

    async def check(self, model: str, *, input_tokens: int = 0, max_output_tokens: int = 0) -> None:
        await self._meter.check(
            model, input_tokens=input_tokens, max_output_tokens=max_output_tokens
        )

    async def record(self, model: str, *, input_tokens: int, output_tokens: int) -> float:
        cost = await self._meter.record(
            model, input_tokens=input_tokens, output_tokens=output_tokens
        )
        self._operations.model_call(model, input_tokens, output_tokens, cost)
        return cost

    @property
    def spent(self) -> float:
        return self._meter.spent

    # Read by every turn (``TurnHandler``): plain properties, not ``__getattr__``, which
    # Python reaches only after a failed lookup (an AttributeError raised and caught).
    @property
    def input_tokens(self) -> int:
        return getattr(self._meter, "input_tokens", 0)

    @property
    def output_tokens(self) -> int:
        return getattr(self._meter, "output_tokens", 0)

    @property
    def release(self) -> Callable[[], object] | None:
        return getattr(self._meter, "release", None)

    def __getattr__(self, name: str) -> Any:  # anything else of the real meter
        return getattr(self._meter, name)


class _CountingNullMeter:
    """:class:`CountingMeter` of a ``NullMeter`` (pricing off: nothing priced or reserved,
    each call still counted), with plain class attributes where a wrapper needs lookups."""

    __slots__ = ("_operations",)
    input_tokens = 0
    output_tokens = 0
    spent = 0.0
    release = None

    def __init__(self, operations: Operations) -> None:
        self._operations = operations

    async def check(self, model: str, *, input_tokens: int = 0, max_output_tokens: int = 0) -> None:
        return None

    async def record(self, model: str, *, input_tokens: int, output_tokens: int) -> float:
        self._operations.model_call(model, input_tokens, output_tokens, 0.0)
        return 0.0


def counting_meter(meter: CostMeter, operations: Operations) -> CostMeter:
    """``meter`` telling ``operations`` of each model call it records (one per turn)."""
    if type(meter) is NullMeter:
        return _CountingNullMeter(operations)
    return CountingMeter(meter, operations)


clock: Callable[[], float] = time.perf_counter
"""The clock durations are measured with (monotonic, seconds)."""


__all__ = [
    "MAX_LABEL_LENGTH",
    "REFUSAL_CODES",
    "CountingMeter",
    "Operations",
    "clock",
    "counting_meter",
    "refusal_code",
    "source_label",
]
