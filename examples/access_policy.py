"""Boundaries between agents, offline: a planner may ask a coder, the coder may not reach the
vault, and only the planner may publish progress.

The same :class:`~agent_runner.core.AccessPolicy` works unchanged on
``DistributedAgentRuntime`` (where Redis ACLs also make it hard between processes: see
docs/concepts/distributed.md, "Locked-down deployment").

Run: ``python examples/access_policy.py``
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from agent_runner.core import (
    AccessDeniedError,
    AccessPolicy,
    AgentId,
    MessageContext,
    RoutedAgent,
    SingleThreadedAgentRuntime,
    TopicId,
    rpc,
)


@dataclass
class Task:
    text: str


@dataclass
class Secret:
    name: str


class Vault(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("holds secrets")

    @rpc
    async def reveal(self, message: Secret, ctx: MessageContext) -> str:
        return f"the value of {message.name}"


class Coder(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("writes code; a prompt injection makes it try the vault")

    @rpc
    async def code(self, message: Task, ctx: MessageContext) -> str:
        try:
            await self.send_message(Secret("API_KEY"), AgentId("vault", "main"))
        except AccessDeniedError as denied:
            return f"code for {message.text!r} (vault refused: {denied})"
        return f"code for {message.text!r} (and the vault answered!)"


class Planner(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("plans and delegates")

    @rpc
    async def plan(self, message: Task, ctx: MessageContext) -> str:
        await self.publish_message(Task("planning"), TopicId("progress", self.id.key))
        return str(await self.send_message(message, AgentId("coder", self.id.key)))


POLICY = AccessPolicy(
    sends={None: {"planner"}, "planner": {"coder"}, "coder": set()},
    publishes={"planner": {"progress"}},
)


async def main() -> str:
    runtime = SingleThreadedAgentRuntime(access_policy=POLICY)
    await Planner.register(runtime, "planner", Planner)
    await Coder.register(runtime, "coder", Coder)
    await Vault.register(runtime, "vault", Vault)
    runtime.start()
    try:
        return str(await runtime.send_message(Task("a parser"), AgentId("planner", "p1")))
    finally:
        await runtime.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(asyncio.run(main()))  # noqa: T201
