"""Lifecycle helpers: the store's journal recovered, connectors opened and closed, the core
runtime started and stopped, inputs supervised with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from agent_runner.backoff import backoff_delay
from agent_runner.connector import AgentInput, Sink
from agent_runner.core import MessageRuntime
from agent_runner.errors import LeaseLostError
from agent_runner.message import Message
from agent_runner.runner.operations import Operations

if TYPE_CHECKING:
    from agent_runner.runner.mailboxes import ConversationMailboxes
from agent_runner.store import JournalEntry, Store
from agent_runner.store._base import source_of_key

_log = logging.getLogger("agent_runner.runtime")


async def supervise_input(
    connector: AgentInput,
    sink: Sink,
    *,
    stop: asyncio.Event,
    base: float,
    cap: float,
    operations: Operations | None = None,
) -> None:
    """Run ``connector.start(sink)``; restart it with capped backoff when it raises.

    Returns when the input returns by itself or ``stop`` is set. A run that lasted longer
    than ``cap`` seconds resets the backoff (the input was healthy for a while). A
    :class:`LeaseLostError` (a fenced write refused: another process runs this input now)
    is raised, never restarted.
    """
    failures = 0
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        began = loop.time()
        try:
            await connector.start(sink)
        except (asyncio.CancelledError, LeaseLostError):
            raise
        except Exception:  # a crashed input is restarted; the loop must survive
            if loop.time() - began > cap:
                failures = 0
            failures += 1
            if operations is not None:
                operations.input_crashed(connector.name, failures)
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


def start_inputs(
    inputs: Sequence[AgentInput],
    sink: Sink,
    *,
    stop: asyncio.Event,
    base: float,
    cap: float,
    operations: Operations | None = None,
) -> list[asyncio.Task[None]]:
    """One task per input running :func:`supervise_input` (until ``stop`` is set)."""
    return [
        asyncio.create_task(
            supervise_input(connector, sink, stop=stop, base=base, cap=cap, operations=operations),
            name=f"agent-runner input {connector.name}",
        )
        for connector in inputs
    ]


async def recover_journal(
    store: Store,
    submit: Callable[[Message, asyncio.Future[bool]], None],
    sources: Collection[str],
) -> None:
    """Queue every journaled message of ``sources`` (this runner's connector names) not yet
    handled (a crash or a cut-short shutdown left it). Another bot's entries in a shared
    store are left pending for their own bot."""
    pending = await store.journal_pending()
    theirs = [e for e in pending if source_of_key(e.key) not in sources]
    if theirs:
        _log.info(
            "%d journaled input(s) of other connectors (%s) left for their own bot",
            len(theirs),
            ", ".join(sorted({source_of_key(e.key) for e in theirs})),
        )
    pending = [e for e in pending if source_of_key(e.key) in sources]
    if pending:
        _log.info("recovering %d accepted input(s) not yet answered", len(pending))
        await requeue(store, pending, submit)


async def requeue(
    store: Store,
    entries: Sequence[JournalEntry],
    submit: Callable[[Message, asyncio.Future[bool]], None],
) -> None:
    """Queue the messages of journal ``entries`` (accepted already) in their conversations,
    in the order given; an entry that cannot be read is logged and completed."""
    loop = asyncio.get_running_loop()
    for entry in entries:
        try:
            message = Message.model_validate_json(entry.payload)
        except ValueError as exc:
            _log.error("journal entry %s cannot be read, dropped: %s", entry.key, exc)
            await store.journal_complete(entry.key)
            continue
        accepted: asyncio.Future[bool] = loop.create_future()
        accepted.set_result(True)
        submit(message, accepted)


async def open_connectors(
    stack: contextlib.AsyncExitStack,
    connectors: Sequence[object],
    store: Store,
    store_for: Callable[[object], Store] | None = None,
    operations: Operations | None = None,
) -> None:
    """``bind_store(store)`` on every connector that has it (``store_for(connector)`` when
    given: a fenced view for an input run under a lease) and ``bind_monitor`` (with
    ``operations``), then ``open()`` each one (a connector that is both input and output
    once); its ``close()`` goes on ``stack``."""
    unique = list({id(connector): connector for connector in connectors}.values())
    for connector in unique:
        bind = getattr(connector, "bind_store", None)
        if callable(bind):
            bind(store_for(connector) if store_for is not None else store)
        monitor = getattr(connector, "bind_monitor", None)
        if operations is not None and callable(monitor):
            monitor(operations.connector_state)
    for connector in unique:
        opener = getattr(connector, "open", None)
        if callable(opener):
            await opener()
        closer = getattr(connector, "close", None)
        if callable(closer):
            stack.push_async_callback(close_quietly, connector, closer)


async def close_quietly(part: object, close: Any) -> None:
    """Call ``close()`` (sync or async) of ``part``, a connector or the agent; log, never raise."""
    try:
        result = close()
        if inspect.isawaitable(result):
            await result
    except Exception:  # closing one part must not keep the others open
        _log.exception("closing %r failed", getattr(part, "name", part))


async def close_store(store: Store) -> None:
    """Commit what the store still holds, then close it."""
    try:
        await store.flush()
    finally:
        await store.close()


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


async def drain_within(
    mailboxes: ConversationMailboxes, grace: float, deadline: float | None, hurry: asyncio.Event
) -> None:
    """Let the mailboxes finish until ``deadline`` (loop time; ``None``: ``grace`` seconds
    from now), less once ``hurry`` is set; what is cut short stays journaled."""
    loop = asyncio.get_running_loop()
    left = grace if deadline is None else deadline - loop.time()
    cut_short = await mailboxes.drain(left, hurry=hurry)
    if cut_short:
        _log.warning(
            "shutdown grace (%ss) over: %d conversation(s) cut short; their messages "
            "stay journaled and are handled on the next start",
            grace,
            cut_short,
        )


async def wait_either(first: asyncio.Event, second: asyncio.Event) -> None:
    """Wait until ``first`` or ``second`` is set."""
    if first.is_set() or second.is_set():
        return
    waits = [asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


__all__ = [
    "close_quietly",
    "close_store",
    "drain_within",
    "open_connectors",
    "recover_journal",
    "requeue",
    "start_inputs",
    "start_runtime",
    "stop_inputs",
    "stop_runtime",
    "supervise_input",
    "wait_either",
]
