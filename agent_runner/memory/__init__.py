"""What an agent remembers: short-term (the recent turns of a conversation) and long-term
(facts and snippets recalled by meaning, per user or conversation).

::

    from agent_runner.memory import (
        HashingEmbedder, LongTermMemory, MemoryScope, ShortTermMemory, SQLiteMemoryStore,
    )

    runtime = AgentRuntime(inputs, outputs, agent, short_term_memory=ShortTermMemory())
    memory = LongTermMemory(SQLiteMemoryStore("data/memory.sqlite3"), HashingEmbedder())
    agent = LLMAgent(client, system_prompt="...", long_term_memory=memory,
                     tools=memory_tools(memory))

Long-term memory needs numpy (the ``memory`` extra); the Redis store the ``redis`` extra and
the OpenAI embedder the ``llm`` extra, each imported when first used.
"""

from agent_runner.memory.embedders import Embedder, HashingEmbedder, OpenAIEmbedder
from agent_runner.memory.long_term import LongTermMemory, MemoryBackend, ScopeLike
from agent_runner.memory.records import (
    MemoryRecord,
    MemoryScope,
    Recalled,
    RecordKind,
    ScopeKind,
)
from agent_runner.memory.redis_store import RedisMemoryStore
from agent_runner.memory.short_term import (
    ConversationView,
    ShortTermMemory,
    estimate_tokens,
    trim_to_budget,
)
from agent_runner.memory.sqlite_store import SQLiteMemoryStore
from agent_runner.memory.tools import memory_tools

__all__ = [
    "ConversationView",
    "Embedder",
    "HashingEmbedder",
    "LongTermMemory",
    "MemoryBackend",
    "MemoryRecord",
    "MemoryScope",
    "OpenAIEmbedder",
    "Recalled",
    "RecordKind",
    "RedisMemoryStore",
    "SQLiteMemoryStore",
    "ScopeKind",
    "ScopeLike",
    "ShortTermMemory",
    "estimate_tokens",
    "memory_tools",
    "trim_to_budget",
]
