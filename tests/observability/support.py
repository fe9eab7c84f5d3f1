"""Helpers of the operator endpoint tests: a free port, a runner with the endpoint on."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from agent_runner import AgentRuntime
from agent_runner.observability import AdminSettings
from agent_runner.store import InMemoryStore
from connectors.inmemory import InMemoryConnector


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


async def echo(message: Any, context: Any) -> str:
    return f"echo: {message.text}"


@asynccontextmanager
async def running(
    agent: Any = echo,
    *,
    chat: InMemoryConnector | None = None,
    extra_inputs: Sequence[Any] = (),
    **kwargs: Any,
) -> AsyncIterator[tuple[AgentRuntime, InMemoryConnector, str]]:
    """An AgentRuntime with the endpoint on a free port: (runtime, chat, endpoint URL)."""
    chat = chat or InMemoryConnector()
    admin = kwargs.pop("admin", None) or AdminSettings(port=free_port())
    kwargs.setdefault("store", InMemoryStore())
    inputs = [chat, *extra_inputs]
    runtime = AgentRuntime(inputs, [chat], agent, handle_signals=False, admin=admin, **kwargs)
    task = asyncio.create_task(runtime.run())
    try:
        await runtime.wait_started()
        assert runtime.operator is not None and runtime.operator.url is not None
        yield runtime, chat, runtime.operator.url
    finally:
        await runtime.stop()
        await asyncio.wait_for(task, 30)


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of the samples ``name{labels...}`` in a Prometheus exposition."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if labels.items() <= found.items():
            total += float(match.group(3))
    return total


async def get(url: str, **kwargs: Any) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get(url, **kwargs) as response:
            return response.status, await response.text()


def stop_gracefully(proc: subprocess.Popen[str]) -> int:
    """SIGTERM a runner process; its exit code (0: a graceful shutdown)."""
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


def reap(proc: subprocess.Popen[str]) -> None:
    """Kill ``proc`` if it still runs, and close its stderr pipe."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()
