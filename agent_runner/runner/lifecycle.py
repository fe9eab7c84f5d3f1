"""Lifecycle helpers: the core runtime, connectors, and inputs supervised with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Sequence
from typing import Any

from agent_runner.backoff import backoff_delay
from agent_runner.connector import AgentInput, Sink
from agent_runner.core import MessageRuntime

_log = logging.getLogger("agent_runner.runtime")


async def supervise_input(
    connector: AgentInput, sink: Sink, *, stop: asyncio.Event, base: float, cap: float
) -> None:
    """Run ``connector.start(sink)``; restart it with capped backoff when it raises.

    Returns when the input returns by itself or ``stop`` is set. A run that lasted longer
    than ``cap`` seconds resets the backoff (the input was healthy for a while).
    """
    failures = 0
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        began = loop.time()
        try:
            await connector.start(sink)
        except asyncio.CancelledError:
            raise
        except Exception:  # a crashed input is restarted; the loop must survive
            if loop.time() - began > cap:
                failures = 0
            failures += 1
            delay = backoff_delay(failures, base=base, cap=cap)
            _log.exception(
                "input %r crashed (%d in a row); restarting in %.2fs",
                connector.name,
                failures,
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        else:
            if not stop.is_set():
                _log.info("input %r finished", connector.name)
            return


def unique_connectors(connectors: Sequence[object]) -> list[object]:
    seen: dict[int, object] = {}
    for connector in connectors:
        seen.setdefault(id(connector), connector)
    return list(seen.values())


async def close_connector(connector: object, close: Any) -> None:
    """Call ``close()`` (sync or async) of a connector or agent; log, never raise."""
    try:
        result = close()
        if inspect.isawaitable(result):
            await result
    except Exception:  # closing one part must not keep the others open
        _log.exception("closing %r failed", getattr(connector, "name", connector))


async def start_runtime(runtime: MessageRuntime, *, owned: bool) -> bool:
    """Start the core runtime unless it is already running; True when this call started it."""
    start = getattr(runtime, "start", None)
    if not callable(start):
        return False
    try:
        result = start()
        if inspect.isawaitable(result):
            await result
    except RuntimeError:
        if owned:
            raise
        # autogen-core and agent_runner.core raise RuntimeError("... already started")
        _log.debug("the given core runtime is already running; it stays the caller's")
        return False
    return True


async def stop_runtime(runtime: MessageRuntime) -> None:
    for name in ("close", "stop"):
        method = getattr(runtime, name, None)
        if callable(method):
            result = method()
            if inspect.isawaitable(result):
                await result
            return


async def stop_inputs(
    inputs: Sequence[AgentInput], tasks: Sequence[asyncio.Task[None]], *, grace: float
) -> None:
    for connector in inputs:
        try:
            await connector.stop()
        except Exception:  # one input failing to stop must not keep the others running
            _log.exception("stopping input %r failed", connector.name)
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=grace)
    for task in late:
        _log.warning("input %s did not return after stop(); cancelled", task.get_name())
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


__all__ = [
    "close_connector",
    "start_runtime",
    "stop_inputs",
    "stop_runtime",
    "supervise_input",
    "unique_connectors",
]
