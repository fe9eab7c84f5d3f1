"""Eager start of a coroutine: run it at once, make a task only if it has to wait.

Python 3.12 has ``asyncio.eager_task_factory``; this is the same idea for 3.11. A message
handler that finishes without waiting (most do, or wait only for the reply write) then costs
no task and no extra turn of the event loop between reading a message and answering it.
The coroutine runs in its own copy of the context, as in a task.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Coroutine
from typing import Any


def _wake(future: asyncio.Future[None], _done: object) -> None:
    if not future.done():
        future.set_result(None)


async def _resume(coro: Coroutine[Any, Any, Any], waiting: Any) -> Any:
    """Continue driving ``coro`` (suspended on ``waiting``) from inside a task."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            if waiting is None:
                await asyncio.sleep(0)  # the coroutine yielded to the loop (sleep(0))
            elif not waiting.done():
                woken: asyncio.Future[None] = loop.create_future()
                waiting.add_done_callback(functools.partial(_wake, woken))
                await woken
        except asyncio.CancelledError as exc:
            if waiting is not None:
                waiting.cancel()
            try:
                waiting = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            waiting = coro.send(None)  # the coroutine reads its future's result or error
        except StopIteration as stop:
            return stop.value


def start_eagerly(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
    """Run ``coro`` until it first waits; None when it finished, else the task finishing it.

    Exceptions the coroutine raises before its first wait propagate to the caller.
    """
    context = contextvars.copy_context()
    try:
        waiting = context.run(coro.send, None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(_resume(coro, waiting), context=context)
