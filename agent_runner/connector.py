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

Before each send the runner durably claims the reply (at most once per output, across
restarts and processes). An output whose delivery cannot repeat by its nature may say so with
``needs_claim(request) -> bool`` returning False for that request, and the runner skips the
claim: the HTTP connector does for answers on the live response (after a crash that
connection is gone, and a client's retry of the same id is answered from its own cache).

``agent-runner check`` prints what each connector will do: a connector that has
``describe() -> str`` (:class:`Describable`) says it in one line. A connector package may also
register a class under the :data:`CONNECTOR_ENTRY_POINTS` entry-point group; ``check`` then
builds it with ``from_env()`` and describes it even when no bot file is given. That is how the
``connectors`` package's HTTP connector shows up, and why ``agent_runner`` never imports
``connectors`` (the dependency points one way).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

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


class BaseConnector:
    """Defaults for connectors: no-op lifecycle, ``async with``, a stop event.

    Subclasses set ``name`` and implement :meth:`run` (inputs) and/or ``send`` (outputs).
    """

    name: str = "connector"

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
    "Describable",
    "Sink",
    "StreamingOutput",
]
