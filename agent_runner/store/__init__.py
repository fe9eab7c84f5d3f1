"""Stores: the journal, reply claims, cursors, memory, ledger and state the runner keeps."""

from agent_runner.store._base import CostEntry, JournalEntry, MemoryItem, Role, Store
from agent_runner.store._in_memory import InMemoryStore
from agent_runner.store._sqlite import SQLiteStore

__all__ = [
    "CostEntry",
    "InMemoryStore",
    "JournalEntry",
    "MemoryItem",
    "Role",
    "SQLiteStore",
    "Store",
]
