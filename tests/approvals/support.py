"""A banker bot for the approval tests: a scripted model that asks for transfers and reports
tool results, and a gated ``transfer`` tool that records every run."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from agent_runner.approvals import Approvals
from agent_runner.llm import (
    LLMAgent,
    ModelRequest,
    ScriptAnswer,
    ScriptedModelClient,
    Tool,
    ToolCall,
)

_TRANSFER = re.compile(r"send (\d+) to (\w+)")
APPROVAL_ID = re.compile(r'approve ([0-9a-f]{10})"')


def banker(request: ModelRequest) -> ScriptAnswer:
    """Transfers for "send N to X" (several per message), then "done: <tool results>"."""
    messages = request.messages
    if messages[-1].role == "tool":
        results = []
        for message in reversed(messages):
            if message.role != "tool":
                break
            results.insert(0, message.content or "")
        return "done: " + " | ".join(results)
    found = _TRANSFER.findall(messages[-1].content or "")
    if found:
        return [
            ToolCall.of("transfer", {"to": to, "amount": int(amount)}, id=f"call_{i}")
            for i, (amount, to) in enumerate(found)
        ]
    return "ok"


def make_agent(
    record: Callable[[str], None], **approvals: Any
) -> tuple[LLMAgent, ScriptedModelClient]:
    """The agent: ``transfer`` needs approval above 100; each run calls ``record``."""

    async def transfer(to: str, amount: int) -> str:
        """Send money."""
        record(f"{to}:{amount}")
        return f"sent {amount} to {to}"

    gated = Tool(transfer, requires_approval=lambda args: args["amount"] > 100)
    client = ScriptedModelClient(default=banker)
    agent = LLMAgent(
        client, system_prompt="You move money.", tools=[gated], approvals=Approvals(**approvals)
    )
    return agent, client
