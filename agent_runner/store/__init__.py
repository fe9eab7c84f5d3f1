"""Stores: the journal, reply claims, cursors, memory, ledger and state the runner keeps."""

from agent_runner.store._base import CostEntry, JournalEntry, Store
from agent_runner.store._memory import MemoryStore
from agent_runner.store._sqlite import SQLiteStore

__all__ = ["CostEntry", "JournalEntry", "MemoryStore", "SQLiteStore", "Store"]
