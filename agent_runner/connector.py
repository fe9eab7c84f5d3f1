"""The connector contract: :class:`AgentInput` pushes messages, :class:`AgentOutput` sends replies.

A connector may be both (Discord, HTTP). Users write their own in a few lines by
subclassing :class:`BaseConnector`::

    class Stdin(BaseConnector):
        name = "stdin"

        async def run(self, sink: Sink) -> None:   # called by start(); return or be cancelled
            async for line in lines():
                await sink({"id": new_id(), "conversation_id": "me", "source": self.name,
                            "author": {"id": "me"}, "text": line})

        async def send(self, request: Message, response: Reply) -> None:
            print(response.text)

Lifecycle, called by the runner: ``open()`` on every connector before any input starts;
``start(sink)`` on inputs (a long-running coroutine, restarted with backoff if it raises);
``send()`` on outputs; ``stop()`` on inputs at shutdown (start() must then return soon);
``close()`` on every connector last.

Two optional hooks: ``bind_store(store)``, called once after the store is opened and before
``open()``, for connectors that keep cursors (X's since_id, Discord's last seen id); and
``async complete(message)``, called on the message's source connector once the message is
handled (every reply sent or given up, also when there were none): an HTTP request then
answers with all its replies, a typing indicator stops, a cron job knows its firing is done.

Delivery contracts. Before each send the runner records the reply in the store's reply
ledger under a stable key (``"{message.key}#{reply index}"``, per output), and its outcome
after. What happens when the process died in between depends on what the output declares
in its ``delivery`` attribute (:data:`DeliveryContract`):

- ``"exactly_once"``: the platform deduplicates a resend that carries our key (webhook and
  callback ``Idempotency-Key``, Discord's message ``nonce`` with ``enforce_nonce``). After a
  crash the runner sends again with the same key; the platform keeps one copy.
- ``"reconciled"``: the platform can be asked whether our reply is there (X: the bot's
  replies in the conversation). After a crash the runner first calls
  ``async reconcile(request, response, key) -> bool`` (:class:`ReconciledOutput`), which
  records the parts it finds (``key.part_delivered``) and returns True when the whole reply
  is there; the rest is sent.
- ``"at_most_once"`` (the default of an output that declares nothing): nothing can tell
  whether the reply went out. After a crash the runner never resends: it logs the reply as
  lost, with its key, at WARNING, and records it failed.

An output that declares ``delivery`` takes the key: the runner calls
``send(request, response, key=DeliveryKey(...))`` (:class:`KeyedOutput`); one that does not
is called ``send(request, response)`` as before. A reply the output splits into parts (a
thread of posts, several chat messages) is delivered part by part: the output reports each
delivered part with ``await key.part_delivered(i, platform_id)`` (durable) and skips the
parts in ``key.parts`` (a resumed thread of 5 interrupted after 3 goes on at 4, replying to
the 3rd's id). ``key.part_key(i)`` is the part's own stable key (a nonce, an
Idempotency-Key).

An output whose delivery cannot repeat by its nature may say so with
``needs_claim(request) -> bool`` returning False for that request, and the runner keeps no
ledger for it: the HTTP connector does for answers on the live response (after a crash that
connection is gone, and a client's retry of the same id is answered from its own cache).

Replicas. An input that only one process at a time may consume for one account (a Telegram
``getUpdates`` poller, a Discord gateway session, a Slack Socket Mode connection, X polling,
the terminal) says so with ``single_consumer = True``; the runner then runs it only while it
holds the store lease named by its ``lease_name`` (see :mod:`agent_runner.runner.leadership`).
Inputs every replica may run (HTTP, webhooks, the Slack Events API) keep the default, False.

Pipelined inputs (a poll page, a gateway event: nobody outside waits for the acknowledgement)
hand messages over without waiting for a commit each: see :mod:`agent_runner.handover`.

``agent-runner check`` prints what each connector will do: a connector that has
``describe() -> str`` (:class:`Describable`) says it in one line. A connector package may also
register a class under the :data:`CONNECTOR_ENTRY_POINTS` entry-point group; ``check`` then
builds it with ``from_env()`` and describes it even when no bot file is given. That is how the
``connectors`` package's HTTP connector shows up, and why ``agent_runner`` never imports
``connectors`` (the dependency points one way).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from agent_runner.message import Message, Reply

CONNECTOR_ENTRY_POINTS = "agent_runner.connectors"
"""The entry-point group of connector classes ``agent-runner check`` describes from the
environment: each has ``from_env()`` (no arguments; it raises ``ConfigurationError`` for an
invalid setting) returning a :class:`Describable` connector. In ``pyproject.toml``::

    [project.entry-points."agent_runner.connectors"]
    http = "connectors.http:HTTPConnector"
"""


@dataclass(frozen=True, slots=True)
class Accepted:
    """The sink's answer: the message is durably journaled (or was already).

    ``duplicate`` is true when this message key was seen before: it will not be handled
    again, and an HTTP-like input should answer with the reply it already has, if any.
    """

    key: str
    duplicate: bool = False


class Sink(Protocol):
    """Where inputs push messages. Returns once the message is journaled.

    Raises :class:`~agent_runner.errors.InvalidMessageError` (with ``reason``) for invalid
    input and for messages refused by a loop guard; the input reports it (HTTP 4xx, a log
    line) and carries on.
    """

    async def __call__(self, message: Message | Mapping[str, Any], /) -> Accepted: ...


@runtime_checkable
class AgentInput(Protocol):
    """A source of messages. ``name`` identifies it; replies route back by that name."""

    name: str

    async def start(self, sink: Sink) -> None:
        """Run until :meth:`stop` is called (then return) or the task is cancelled."""
        ...

    async def stop(self) -> None:
        """Stop taking input; ``start`` returns soon after."""
        ...


@runtime_checkable
class AgentOutput(Protocol):
    """A destination for replies."""

    name: str

    async def send(self, request: Message, response: Reply) -> None:
        """Deliver ``response`` to ``request`` (split to the platform's limits).

        Raise on failure; the runner retries with capped backoff, then records it as failed.
        Raise :class:`~agent_runner.errors.DeliveryError` for a failure that retrying cannot
        fix (the runner then gives up at once).
        """
        ...


DeliveryContract = Literal["exactly_once", "reconciled", "at_most_once"]
"""What an output can promise about a reply whose send was interrupted (see the module doc)."""


@dataclass(slots=True)
class DeliveryKey:
    """The stable identity of one reply on one output, given to outputs that declare a
    delivery contract (``send(request, response, key=...)``).

    The same reply has the same key in every attempt, in every process, across restarts.

    Attributes:
        key: ``"{message.key}#{reply index}"``, e.g. ``"http:42#0"``.
        output: the output's name.
        index: the reply's index among its message's replies.
        attempt: 1 the first time; higher when an earlier attempt's outcome is unknown.
        parts: parts of this reply already delivered (part index -> platform id); skip them.
        resumed: an earlier attempt may have delivered more than ``parts`` says (it was
            interrupted: a crash, or a failure in this process that is being retried).
    """

    key: str
    output: str
    index: int = 0
    attempt: int = 1
    parts: dict[int, str] = field(default_factory=dict)
    resumed: bool = False
    record: Callable[[int, str], Awaitable[None]] | None = field(default=None, repr=False)
    """Records a delivered part durably (the runner sets it; None keeps parts in memory)."""

    def part_key(self, part: int) -> str:
        """The stable key of part ``part``: ``key`` itself for part 0, ``key.part`` after."""
        return self.key if part == 0 else f"{self.key}.{part}"

    def nonce(self, part: int = 0, *, length: int = 25) -> str:
        """A short stable token for part ``part`` (hex), for platforms that cap the size of
        their deduplication field (Discord's message ``nonce``: 25 characters)."""
        digest = hashlib.sha256(f"{self.output}\x00{self.part_key(part)}".encode())
        return digest.hexdigest()[:length]

    async def part_delivered(self, part: int, ref: str) -> None:
        """Record part ``part`` as delivered (``ref``: its platform id) before going on."""
        if self.record is not None:
            await self.record(part, ref)
        self.parts[part] = ref


@runtime_checkable
class KeyedOutput(Protocol):
    """An output that declares its :data:`DeliveryContract` and takes the reply's key."""

    name: str
    delivery: DeliveryContract

    async def send(self, request: Message, response: Reply, *, key: DeliveryKey) -> None: ...


@runtime_checkable
class ReconciledOutput(Protocol):
    """An output (``delivery = "reconciled"``) the runner can ask what arrived."""

    name: str

    async def reconcile(self, request: Message, response: Reply, key: DeliveryKey) -> bool:
        """Look up the parts of ``response`` not in ``key.parts``, in order, on the platform;
        record each one found (``key.part_delivered``); True when all of them are there."""
        ...


@runtime_checkable
class StreamingOutput(Protocol):
    """An output that can show a reply while the agent is still writing it (HTTP SSE).

    The runner calls ``send_chunk`` for each piece the agent streams through
    ``AgentContext.stream``; ``send`` is still called once with the whole reply at the end.
    """

    name: str

    def wants_stream(self, request: Message) -> bool: ...

    async def send_chunk(self, request: Message, chunk: str) -> None: ...


@runtime_checkable
class Describable(Protocol):
    """A connector that says in one line what it will do (``agent-runner check`` prints it)."""

    def describe(self) -> str:
        """E.g. ``"HTTP on http://127.0.0.1:8080 (auth: none, rate limit: 600/min, ...)"``."""
        ...


@runtime_checkable
class Preflight(Protocol):
    """A connector that can tell, before starting, what would make it fail to start
    (``agent-runner check`` runs it: an address that cannot be bound, a port in use ...)."""

    async def preflight(self) -> list[str]:
        """One line per problem, naming the setting (empty: it would start)."""
        ...


def account_key(secret: str) -> str:
    """A short stable name for the account behind ``secret`` (a bot token): a hash of it,
    never the secret itself, for lease names and logs."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


ConnectorState = Literal["up", "reconnecting", "rate_limited", "down"]
"""A connector's state as it reports it (:meth:`BaseConnector.report`)."""

ConnectorMonitor = Callable[[str, ConnectorState], None]
"""Told ``(connector name, state)`` on each report (the runner binds the operator endpoint's)."""


class BaseConnector:
    """Defaults for connectors: no-op lifecycle, ``async with``, a stop event, progress reports.

    Subclasses set ``name`` and implement :meth:`run` (inputs) and/or ``send`` (outputs).

    Health: an input calls :meth:`report` when it makes progress (a poll finished, a gateway
    event arrived: ``"up"``) and when its state changes (``"reconnecting"``,
    ``"rate_limited"``, ``"down"``). The operator endpoint's ``/readyz`` turns red when a
    connector with a :attr:`progress_interval` goes several intervals without progress, or
    when one stays away from ``"up"`` longer than :attr:`down_grace` seconds.
    """

    name: str = "connector"
    single_consumer: bool = False
    """True when one process at a time may consume this input for its account (the runner
    then runs it only while holding the lease :attr:`lease_name`; see the module doc)."""
    lease_account: str | None = None
    """Which account the input consumes (a bot id, :func:`account_key` of its token), part of
    :attr:`lease_name`; never a secret."""
    lease_group: str | None = None
    """Single-consumer inputs naming the same group (the shards of one Discord bot) are shared
    out evenly between the replicas instead of all going to the first one up."""

    progress_interval: float | None = None
    """Seconds between progress reports when healthy (a poll interval); ``None``: an input
    that may be quiet for any time (a webhook server) is not watched for stalls."""
    down_grace: float = 60.0
    """Seconds a connector may stay reconnecting, rate limited or down before it is red."""
    _monitor: ConnectorMonitor | None = None

    def bind_monitor(self, monitor: ConnectorMonitor) -> None:
        """Send :meth:`report` calls to ``monitor`` (the runner does this at start)."""
        self._monitor = monitor

    def report(self, state: ConnectorState = "up") -> None:
        """Tell the operator endpoint that this connector made progress (``"up"``) or
        changed state. Cheap, never raises; a no-op when no runner watches."""
        monitor = self._monitor
        if monitor is not None:
            monitor(self.name, state)

    def __init__(self, *, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self._stopping = asyncio.Event()

    async def open(self) -> None:
        """Acquire resources (sessions, logins). Called once before start/send."""

    async def close(self) -> None:
        """Release resources. Called once at the end; must be safe to call twice."""

    async def start(self, sink: Sink) -> None:
        """Run the input until stopped: :meth:`run` raced against :meth:`stop`."""
        self._stopping.clear()
        run = asyncio.ensure_future(self.run(sink))
        stopped = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({run, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not run.done():
                run.cancel()
                try:
                    await run
                except asyncio.CancelledError:
                    pass
        if run.done() and not run.cancelled():
            run.result()  # re-raise a crash so the runner restarts the input

    async def run(self, sink: Sink) -> None:
        """The input loop. Inputs override this; outputs-only connectors need not."""
        await self._stopping.wait()

    async def stop(self) -> None:
        self._stopping.set()

    @property
    def lease_name(self) -> str:
        """The store lease a single-consumer input is run under: ``input:{name}``, then
        ``:{lease_account}`` when set. Every replica of one bot derives the same name."""
        base = f"input:{self.name}"
        return f"{base}:{self.lease_account}" if self.lease_account else base

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def __aenter__(self) -> BaseConnector:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        await self.close()


__all__ = [
    "CONNECTOR_ENTRY_POINTS",
    "Accepted",
    "AgentInput",
    "AgentOutput",
    "BaseConnector",
    "ConnectorMonitor",
    "ConnectorState",
    "DeliveryContract",
    "DeliveryKey",
    "Describable",
    "KeyedOutput",
    "Preflight",
    "ReconciledOutput",
    "Sink",
    "StreamingOutput",
    "account_key",
]
