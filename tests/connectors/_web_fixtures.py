"""Helpers for the web connectors' tests: a running AgentRuntime, agents, a webhook receiver."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from agent_runner import AgentContext, AgentRuntime, Message
from agent_runner.store import InMemoryStore, Store


@asynccontextmanager
async def running(
    inputs: Sequence[Any],
    outputs: Sequence[Any],
    agent: Any,
    *,
    store: Store | None = None,
    **options: Any,
) -> AsyncIterator[AgentRuntime]:
    """An AgentRuntime running in a task for the duration of the block, then stopped."""
    options.setdefault("handle_signals", False)
    options.setdefault("shutdown_grace", 5.0)
    runtime = AgentRuntime(inputs, outputs, agent, store=store or InMemoryStore(), **options)
    task = asyncio.create_task(runtime.run())
    started = asyncio.create_task(runtime.wait_started())
    done, _ = await asyncio.wait({task, started}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if not started.done():
        started.cancel()
        await asyncio.gather(started, return_exceptions=True)
        if task.done():
            task.result()
        raise AssertionError("the runtime did not start within 10 s")
    try:
        yield runtime
    finally:
        await runtime.stop()
        await asyncio.wait_for(task, 15)


@dataclass
class Recorder:
    """An echo agent that records every message it gets (to prove what it never saw)."""

    seen: list[Message] = field(default_factory=list)

    async def execute(self, message: Message, context: AgentContext) -> str:
        self.seen.append(message)
        return f"echo: {message.text}"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A local webhook receiver: answers each POST with the next scripted status."""

    def __init__(self, statuses: Sequence[int | tuple[int, dict[str, str]]] = ()) -> None:
        self.script = list(statuses)
        self.received: list[Received] = []
        self.accepted = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(dict(request.headers), await request.read()))
        step = self.script.pop(0) if self.script else 200
        status, headers = step if isinstance(step, tuple) else (step, {})
        async with self._changed:
            self.accepted += status < 300
            self._changed.notify_all()
        return web.json_response({"status": status}, status=status, headers=headers)

    async def wait_accepted(self, count: int = 1, within: float = 10.0) -> list[Received]:
        """Wait until ``count`` POSTs were answered with a 2xx; return every POST so far."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: self.accepted >= count)
        return self.received
