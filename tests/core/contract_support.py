"""Messages, agents and helpers shared by the runtime contract tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from agent_runner.core import (
    AccessPolicy,
    ClosureContext,
    InterventionHandler,
    MessageContext,
    MessageRuntime,
    RoutedAgent,
    rpc,
)


class RuntimeFactory(Protocol):
    """Makes a started runtime (cleaned up after the test)."""

    def __call__(
        self,
        handlers: list[InterventionHandler],
        *,
        ignore_unhandled_exceptions: bool = True,
        access_policy: AccessPolicy | None = None,
    ) -> Awaitable[MessageRuntime]: ...


WAIT = 5.0


@dataclass
class Ping:
    text: str


@dataclass
class Pong:
    text: str


@dataclass
class Note:
    text: str


@dataclass
class Step:
    index: int


@dataclass
class Ask:
    hops: int


class Model(BaseModel):
    name: str
    size: int


class Echo(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("echoes pings")
        self.seen: list[str] = []

    @rpc
    async def on_ping(self, message: Ping, ctx: MessageContext) -> Pong:
        assert ctx.is_rpc and ctx.topic_id is None
        self.seen.append(message.text)
        sender = str(ctx.sender) if ctx.sender else "none"
        return Pong(f"{message.text} from {sender} to {self.id}")

    async def save_state(self) -> Mapping[str, Any]:
        return {"seen": list(self.seen)}

    async def load_state(self, state: Mapping[str, Any]) -> None:
        self.seen = list(state["seen"])


def starts_with_a(message: Ping, ctx: MessageContext) -> bool:
    return message.text.startswith("a")


def collector(queue: asyncio.Queue[tuple[str, Any]]) -> Any:
    async def collect(ctx: ClosureContext, message: Note | Step, mctx: MessageContext) -> None:
        await queue.put((str(ctx.id), message))

    return collect


async def drain(queue: asyncio.Queue[tuple[str, Any]], n: int) -> list[tuple[str, Any]]:
    async with asyncio.timeout(WAIT):
        return [await queue.get() for _ in range(n)]


__all__ = [
    "WAIT",
    "Ask",
    "Echo",
    "Model",
    "Note",
    "Ping",
    "Pong",
    "RuntimeFactory",
    "Step",
    "collector",
    "drain",
    "starts_with_a",
]
