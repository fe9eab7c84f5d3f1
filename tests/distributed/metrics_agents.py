"""An agent for the distributed metrics tests: it answers, raises on ``boom``, and on worker
``w1`` hangs on ``hang...`` (recorded first, so a test knows w1 has the message in hand)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from agent_runner.core import MessageContext, RoutedAgent, rpc
from agent_runner.distributed import DistributedAgentRuntime
from tests.distributed.agents import record


@dataclass
class Work:
    text: str


@dataclass
class Done:
    text: str
    worker: str


class Slow(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("answers, fails or hangs")

    @rpc
    async def on_work(self, message: Work, ctx: MessageContext) -> Done:
        worker = os.environ.get("WORKER_NAME", "?")
        if message.text == "boom":
            raise ValueError("boom")
        if message.text.startswith("hang") and worker == "w1":
            await record("hanging", message.text)
            await asyncio.Event().wait()  # until the worker is killed
        return Done(message.text, worker)


async def register(runtime: DistributedAgentRuntime) -> None:
    await Slow.register(runtime, "slow", Slow)
