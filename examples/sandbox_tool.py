"""An LLM agent that runs Python in a sandbox, offline: a scripted model, a real sandbox.

The model (here :class:`~agent_runner.llm.ScriptedModelClient`, so no key and no network)
asks to run a snippet with the ``run_python`` tool; the snippet runs in a separate process
isolated with bubblewrap (no network, a read-only view of the system, a private work dir,
time/memory/process/output limits), or in the weaker fallback with a WARNING where bubblewrap
is missing; the model reads the result and answers. Everything goes through the real runner.

Run: ``python examples/sandbox_tool.py`` (Debian: ``apt-get install bubblewrap`` first).
With a real model, pass ``tools=sandbox_tools(sandbox)`` to ``agent_from_env`` or
``LLMAgent``; the tools are marked ``requires_approval``, so an ``LLMAgent`` given
``approvals`` asks a person before each run (``docs/how-to/assistant.md``).
"""

from __future__ import annotations

import asyncio
import logging

from agent_runner import AgentRuntime, InMemoryStore
from agent_runner.llm import LLMAgent, ModelRequest, ScriptedModelClient, ToolCall
from agent_runner.sandbox import Sandbox, SandboxLimits, sandbox_tools
from connectors.inmemory import InMemoryConnector

CODE = """\
primes = [n for n in range(2, 50) if all(n % d for d in range(2, int(n ** 0.5) + 1))]
with open("primes.txt", "w") as file:
    file.write(" ".join(map(str, primes)))
print(len(primes), "primes, the largest", primes[-1])
"""


def final_answer(request: ModelRequest) -> str:
    """The scripted model's second step: read the tool's result, answer from it."""
    result = request.messages[-1].content or ""
    printed = result.split("--- stdout ---\n", 1)[-1].split("\n", 1)[0]
    return f"I ran it in the sandbox: {printed}."


def build_agent(sandbox: Sandbox) -> LLMAgent:
    model = ScriptedModelClient([ToolCall.of("run_python", {"code": CODE}), final_answer])
    return LLMAgent(
        model,
        system_prompt="Answer with the help of Python when it helps.",
        tools=sandbox_tools(sandbox),
    )


async def main() -> str:
    sandbox = Sandbox(limits=SandboxLimits(wall_time=5.0, memory_bytes=256 * 1024 * 1024))
    chat = InMemoryConnector()
    runtime = AgentRuntime([chat], [chat], build_agent(sandbox), store=InMemoryStore())
    task = asyncio.create_task(runtime.run())
    try:
        await chat.push("How many primes are there below 50?", conversation_id="demo")
        [(_, reply)] = await chat.wait_for_replies(1, timeout=30.0)
    finally:
        await runtime.stop()
        await task
    return f"[{sandbox.isolation}] {reply.text}"


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    print(asyncio.run(main()))
