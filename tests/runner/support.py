"""Helpers for the runner's tests: run an AgentRuntime in the background, build one quickly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from agent_runner import AgentRuntime

FAST = {"handle_signals": False, "retry_base_delay": 0.001, "retry_max_delay": 0.01}
"""Keyword arguments that keep a test runner fast and out of the process's signals."""


@contextlib.asynccontextmanager
async def running(runtime: AgentRuntime) -> AsyncIterator[AgentRuntime]:
    """Run ``runtime`` in a task while inside the block; stop it and await it on exit."""
    task = asyncio.create_task(runtime.run())
    started = asyncio.create_task(runtime.wait_started())
    done, _ = await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        started.cancel()
        await asyncio.gather(started, return_exceptions=True)
        task.result()
        raise AssertionError("run() returned before starting")
    try:
        yield runtime
    finally:
        await runtime.stop()
        async with asyncio.timeout(10):
            await task


def make(inputs: Any, outputs: Any, agent: Any, **kwargs: Any) -> AgentRuntime:
    """An AgentRuntime with the FAST settings (overridable)."""
    return AgentRuntime(inputs, outputs, agent, **{**FAST, **kwargs})
