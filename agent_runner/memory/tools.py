"""``remember`` and ``recall`` tools for :class:`~agent_runner.llm.LLMAgent`.

The scopes come from the message being answered (its author and its conversation, plus the
shared ones), never from the model: a model cannot read or write another user's memory.
"""

from __future__ import annotations

from typing import Literal

from agent_runner.agent import AgentContext
from agent_runner.llm._tools import Tool
from agent_runner.memory.long_term import LongTermMemory
from agent_runner.memory.records import MemoryScope


def memory_tools(memory: LongTermMemory, *, k: int = 5) -> list[Tool]:
    """``remember`` (a fact about the user or the conversation) and ``recall`` (by meaning).

    Args:
        memory: the long-term memory.
        k: the most records ``recall`` returns.
    """

    async def remember(
        fact: str, context: AgentContext, about: Literal["user", "conversation"] = "user"
    ) -> str:
        """Remember a fact for later conversations.

        Args:
            fact: one self-contained sentence, e.g. "Ada prefers tea to coffee".
            about: "user" for a fact about the person you are talking to (remembered in
                every conversation with them), "conversation" for one about this conversation.
        """
        message = context.message
        author = MemoryScope.user(message.source, message.author.id)
        scope = author if about == "user" else MemoryScope.conversation(message.conversation_key)
        await memory.remember(scope, fact, author=author.id)
        return "remembered"

    async def recall(query: str, context: AgentContext) -> str:
        """Look up what you remember about this user and conversation.

        Args:
            query: what you want to know, e.g. "favourite drink".
        """
        found = await memory.recall(query, memory.scopes_for(context.message), k=k)
        if not found:
            return "nothing remembered about that"
        return "\n".join(f"- {item.record.text}" for item in found)

    return [Tool(remember), Tool(recall)]


__all__ = ["memory_tools"]
