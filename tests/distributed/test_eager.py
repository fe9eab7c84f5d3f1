"""start_eagerly: run at once, become a task only when waiting; context and cancellation."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from agent_runner.distributed._eager import start_eagerly

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="outer")


async def test_a_coroutine_that_never_waits_needs_no_task() -> None:
    seen: list[str] = []

    async def quick() -> None:
        VAR.set("inner")
        seen.append(VAR.get())

    assert start_eagerly(quick()) is None
    assert seen == ["inner"] and VAR.get() == "outer"  # ran in its own context


async def test_a_waiting_coroutine_finishes_in_a_task() -> None:
    gate = asyncio.Event()
    steps: list[str] = []

    async def slow() -> str:
        token = VAR.set("inner")
        steps.append("started")
        await gate.wait()
        await asyncio.sleep(0)
        steps.append(VAR.get())
        VAR.reset(token)  # same context across the hand-over
        return "done"

    task = start_eagerly(slow())
    assert steps == ["started"] and task is not None
    gate.set()
    assert await task == "done"
    assert steps == ["started", "inner"]


async def test_errors_and_cancellation_reach_the_coroutine() -> None:
    cancelled = asyncio.Event()

    async def waits_forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = start_eagerly(waits_forever())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()

    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise ValueError("late")

    failing = start_eagerly(fails_later())
    assert failing is not None
    with pytest.raises(ValueError, match="late"):
        await failing

    async def fails_at_once() -> None:
        raise KeyError("now")

    with pytest.raises(KeyError):
        start_eagerly(fails_at_once())
