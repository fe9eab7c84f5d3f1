"""RPCs in flight: the pending calls of a runtime, and the call chain of a handler.

Every call ends with a reply, an error or a timeout.

Each call gets a request id (``rid``) unique to its runtime and unguessable (a counter and 64
random bits: a worker that never read the request cannot forge its reply, which matters when
Redis ACLs keep workers to their own types). The reply loop resolves calls by
``rid``; a timer fails the call with :class:`~agent_runner.errors.RPCTimeoutError` naming the
recipient; on timeout or cancellation a ``cancel`` envelope is sent after the request, on the
same stream, so the worker handling it cancels the handler's token.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from agent_runner.distributed._stats import DistributedStats
from agent_runner.errors import RPCTimeoutError, RuntimeStoppedError

_ENTROPY = 4096

CALL_CHAIN: ContextVar[tuple[str, ...]] = ContextVar("agent_runner_distributed_chain", default=())
"""The agents (``type/key``) whose handlers wait in the current call chain, outermost first.

A worker sets it around each handler; the RPCs the handler sends carry it in their ``chain``
header, so a call that comes back to an agent waiting in the chain runs at once."""


@dataclass(slots=True)
class Call:
    """One RPC in flight."""

    rid: str
    recipient: str
    stream: str
    future: asyncio.Future[Any]
    deadline: float
    """Loop time at which the call times out (``inf``: never)."""
    pending: PendingCalls

    def __call__(self, future: asyncio.Future[Any]) -> None:
        """The future's done callback (the call itself: no closure per call)."""
        self.pending._done(self.rid, future)

    def write_failed(self, error: BaseException) -> None:
        """The request could not be written: the call fails with that error."""
        if self.pending.pop(self.rid) is not None and not self.future.done():
            self.future.set_exception(error)


class PendingCalls:
    """RPCs awaiting a reply, by request id.

    Every call has the same timeout, so the calls' insertion order is their deadline order:
    one timer, set for the oldest pending call, expires the calls that are due and is set
    again for the next (a timer per call cost a heap entry and a handle each).
    """

    def __init__(
        self, runtime_id: str, on_abandon: Callable[[Call], None], *, timeout: float | None
    ) -> None:
        self._prefix = f"{runtime_id}:"
        self._counter = itertools.count(1)
        self._entropy = os.urandom(_ENTROPY)
        """Random bytes for request and message ids, drawn 4 KiB at once (not a system call
        per id)."""
        self._used = 0
        self._calls: dict[str, Call] = {}
        self._on_abandon = on_abandon
        """Called when a call is given up (timeout, cancellation): sends the cancel envelope."""
        self.stats: DistributedStats | None = None
        """Counts each call's outcome when the operator endpoint asks (``None``: off)."""
        self._timeout = timeout
        self._timer: asyncio.TimerHandle | None = None
        """Set for the oldest pending call's deadline while calls are pending."""

    def __len__(self) -> int:
        return len(self._calls)

    def _random(self, size: int) -> bytes:
        used = self._used
        if used + size > _ENTROPY:
            self._entropy = os.urandom(_ENTROPY)
            used = 0
        self._used = used + size
        return self._entropy[used : used + size]

    def new_rid(self) -> str:
        return f"{self._prefix}{next(self._counter)}.{self._random(8).hex()}"

    def new_message_id(self) -> str:
        """A random UUID (version 4) as text, as ``str(uuid.uuid4())`` but a fifth of its cost."""
        h = self._random(16).hex()
        variant = "89ab"[int(h[16], 16) & 3]
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"

    def add(self, rid: str, recipient: str, stream: str) -> Call:
        loop = asyncio.get_running_loop()
        deadline = math.inf
        if self._timeout is not None:
            deadline = loop.time() + self._timeout
            if self._timer is None:
                self._timer = loop.call_at(deadline, self._expire_due)
        call = Call(rid, recipient, stream, loop.create_future(), deadline, self)
        self._calls[rid] = call
        call.future.add_done_callback(call)
        return call

    def pop(self, rid: str) -> Call | None:
        return self._calls.pop(rid, None)

    def _done(self, rid: str, future: asyncio.Future[Any]) -> None:
        if self.stats is not None:
            self.stats.rpc_done(future)
        if future.cancelled():
            call = self.pop(rid)
            if call is not None:
                self._on_abandon(call)

    def _expire_due(self) -> None:
        """Fail the calls whose deadline passed, then wait for the next oldest one's."""
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        due: list[Call] = []
        for call in self._calls.values():  # oldest first: deadlines never decrease
            if call.deadline > now:
                self._timer = loop.call_at(call.deadline, self._expire_due)
                break
            due.append(call)
        for call in due:
            del self._calls[call.rid]
            if call.future.done():
                continue
            call.future.set_exception(
                RPCTimeoutError(
                    f"no reply from {call.recipient} within {self._timeout:g}s (rid {call.rid})"
                )
            )
            self._on_abandon(call)

    def fail_all(self, reason: str) -> None:
        """Fail every pending call (the runtime is closing)."""
        calls = list(self._calls.values())
        self._calls.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for call in calls:
            if not call.future.done():
                call.future.set_exception(
                    RuntimeStoppedError(f"{reason}: no reply from {call.recipient}")
                )
