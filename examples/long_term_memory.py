"""Long-term memory, offline: facts remembered in one conversation, recalled in another.

A scripted model (:class:`~agent_runner.llm.ScriptedModelClient`: no key, no network) calls
the ``remember`` tool when Ada mentions an allergy; in a later conversation the agent recalls
the fact into its system prompt, by meaning, for Ada only: Bob's prompt never shows it.
Records live in SQLite (``SQLiteMemoryStore``) and are embedded offline (``HashingEmbedder``);
with a real model, use ``OpenAIEmbedder`` and ``RedisMemoryStore`` for many workers.

Run: ``python examples/long_term_memory.py``.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

from agent_runner import AgentRuntime, InMemoryStore
from agent_runner.llm import LLMAgent, ModelRequest, ScriptedModelClient, ToolCall
from agent_runner.memory import (
    HashingEmbedder,
    LongTermMemory,
    SQLiteMemoryStore,
    memory_tools,
)
from connectors.inmemory import InMemoryConnector


def suggest_a_snack(request: ModelRequest) -> str:
    """The scripted model's answer: it reads what memory put in its system prompt."""
    system = request.messages[0].content or ""
    if "peanuts" in system:
        return "How about an apple? (I remember you are allergic to peanuts.)"
    return "How about some peanut butter toast?"


def build_agent(memory: LongTermMemory) -> LLMAgent:
    model = ScriptedModelClient(
        [
            ToolCall.of("remember", {"fact": "Ada is allergic to peanuts"}),
            "Got it, I will remember that.",
            suggest_a_snack,  # Ada, in another conversation
            suggest_a_snack,  # Bob
        ]
    )
    return LLMAgent(
        model,
        system_prompt="You are a helpful assistant.",
        tools=memory_tools(memory),
        long_term_memory=memory,  # recall the most relevant facts into each prompt
    )


async def main(folder: Path) -> list[str]:
    memory = LongTermMemory(SQLiteMemoryStore(folder / "memory.sqlite3"), HashingEmbedder())
    chat = InMemoryConnector()
    async with memory:
        runtime = AgentRuntime([chat], [chat], build_agent(memory), store=InMemoryStore())
        task = asyncio.create_task(runtime.run())
        try:
            turns = [
                ("ada", "monday", "Note that I am allergic to peanuts."),
                ("ada", "friday", "Can you suggest a snack for peanuts-free me?"),
                ("bob", "friday-bob", "Can you suggest a snack with peanuts?"),
            ]
            for n, (author, conversation, text) in enumerate(turns, start=1):
                await chat.push(text, author_id=author, conversation_id=conversation)
                await chat.wait_for_replies(n, timeout=10.0)
        finally:
            await runtime.stop()
            await task
        forgotten = await memory.forget_user("memory", "ada")  # "forget this user"
    lines = [f"{req.author.id}: {req.text}\n  bot: {reply.text}" for req, reply in chat.sent]
    return [*lines, f"(forgot {forgotten} record(s) of ada)"]


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as data:
        print("\n".join(asyncio.run(main(Path(data)))))
