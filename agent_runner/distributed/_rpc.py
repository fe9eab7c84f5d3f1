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
import os
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from agent_runner.distributed._stats import DistributedStats
from agent_runner.errors import RPCTimeoutError, RuntimeStoppedError

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
    timer: asyncio.TimerHandle | None = field(default=None)


class PendingCalls:
    """RPCs awaiting a reply, by request id."""

    def __init__(self, runtime_id: str, on_abandon: Callable[[Call], None]) -> None:
        self._prefix = f"{runtime_id}:"
        self._counter = itertools.count(1)
        self._entropy = os.urandom(4096)
        """Random bytes for 512 request ids, drawn at once (one system call per 512)."""
        self._calls: dict[str, Call] = {}
        self._on_abandon = on_abandon
        """Called when a call is given up (timeout, cancellation): sends the cancel envelope."""
        self.stats: DistributedStats | None = None
        """Counts each call's outcome when the operator endpoint asks (``None``: off)."""

    def __len__(self) -> int:
        return len(self._calls)

    def new_rid(self) -> str:
        n = next(self._counter)
        i = n & 511
        if i == 0:
            self._entropy = os.urandom(4096)
        return f"{self._prefix}{n}.{self._entropy[i * 8 : i * 8 + 8].hex()}"

    def add(self, rid: str, recipient: str, stream: str, timeout: float | None) -> Call:
        loop = asyncio.get_running_loop()
        call = Call(rid, recipient, stream, loop.create_future())
        if timeout is not None:
            call.timer = loop.call_later(timeout, self._expire, rid, timeout)
        self._calls[rid] = call
        call.future.add_done_callback(lambda f: self._done(rid, f))
        return call

    def pop(self, rid: str) -> Call | None:
        call = self._calls.pop(rid, None)
        if call is not None and call.timer is not None:
            call.timer.cancel()
        return call

    def _done(self, rid: str, future: asyncio.Future[Any]) -> None:
        if self.stats is not None:
            self.stats.rpc_done(future)
        if future.cancelled():
            call = self.pop(rid)
            if call is not None:
                self._on_abandon(call)

    def _expire(self, rid: str, timeout: float) -> None:
        call = self.pop(rid)
        if call is None or call.future.done():
            return
        call.future.set_exception(
            RPCTimeoutError(f"no reply from {call.recipient} within {timeout:g}s (rid {rid})")
        )
        self._on_abandon(call)

    def fail_all(self, reason: str) -> None:
        """Fail every pending call (the runtime is closing)."""
        calls = list(self._calls.values())
        self._calls.clear()
        for call in calls:
            if call.timer is not None:
                call.timer.cancel()
            if not call.future.done():
                call.future.set_exception(
                    RuntimeStoppedError(f"{reason}: no reply from {call.recipient}")
                )
