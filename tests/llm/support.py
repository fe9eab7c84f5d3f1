"""Helpers for the LLM tests: an AgentContext built by hand, a recording cost meter, a
recording sleep (retries are tested without waiting)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from agent_runner import AgentContext, MemoryItem, Message
from agent_runner.errors import BudgetExceededError
from agent_runner.message import Author
from agent_runner.store import Role


class ListMemory:
    """A ConversationMemory over a list (the runner's real one is tested end to end)."""

    def __init__(self, key: str = "test:c1", items: Sequence[MemoryItem] = ()) -> None:
        self._key = key
        self.items = list(items)

    @property
    def conversation_key(self) -> str:
        return self._key

    @property
    def messages(self) -> Sequence[MemoryItem]:
        return tuple(self.items)

    async def add(
        self, role: Role, text: str, *, name: str | None = None, message_key: str | None = None
    ) -> None:
        self.items.append(MemoryItem(role=role, text=text, name=name))


@dataclass
class RecordingMeter:
    """A CostMeter that prices every token at ``price`` and refuses beyond ``limit``."""

    price: float = 0.0
    limit: float | None = None
    checks: list[tuple[str, int, int]] = field(default_factory=list)
    records: list[tuple[str, int, int]] = field(default_factory=list)
    total: float = 0.0

    async def check(self, model: str, *, input_tokens: int = 0, max_output_tokens: int = 0) -> None:
        self.checks.append((model, input_tokens, max_output_tokens))
        worst = (input_tokens + max_output_tokens) * self.price
        if self.limit is not None and self.total + worst > self.limit:
            raise BudgetExceededError(
                "over budget", scope="test", limit=self.limit, spent=self.total
            )

    async def record(self, model: str, *, input_tokens: int, output_tokens: int) -> float:
        self.records.append((model, input_tokens, output_tokens))
        cost = (input_tokens + output_tokens) * self.price
        self.total += cost
        return cost

    @property
    def spent(self) -> float:
        return self.total


class Sleeps:
    """An injected sleep: records each delay, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def message(text: str = "hi", *, conversation_id: str = "c1", author: str = "ada") -> Message:
    return Message(
        id=f"m-{text[:10]}",
        conversation_id=conversation_id,
        source="test",
        author=Author(id=author, name=author),
        text=text,
    )


def make_context(
    msg: Message,
    *,
    memory: Any = None,
    cost: Any = None,
    stream: Any = None,
) -> AgentContext:
    """An AgentContext as the runner builds one (no core runtime or store needed here)."""
    return AgentContext(
        message=msg,
        memory=memory if memory is not None else ListMemory(msg.conversation_key),
        cost=cost if cost is not None else RecordingMeter(),
        runtime=cast(Any, None),
        logger=logging.LoggerAdapter(logging.getLogger("tests.llm"), {"message_key": msg.key}),
        store=cast(Any, None),
        streaming=stream is not None,
        _stream=stream,
    )
