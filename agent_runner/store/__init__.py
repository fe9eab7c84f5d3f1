"""Stores: the journal, reply ledger, cursors, memory, ledger and state the runner keeps."""

from agent_runner.store._base import (
    CostEntry,
    Fence,
    JournalEntry,
    LeaseInfo,
    MemoryItem,
    OwnedJournal,
    ReplyState,
    Role,
    Store,
    replica_lease,
)
from agent_runner.store._counters import (
    InMemoryCounters,
    Refusal,
    SharedCounters,
    counters_for,
)
from agent_runner.store._in_memory import InMemoryStore
from agent_runner.store._sqlite import SQLiteStore

__all__ = [
    "CostEntry",
    "Fence",
    "InMemoryCounters",
    "InMemoryStore",
    "JournalEntry",
    "LeaseInfo",
    "MemoryItem",
    "OwnedJournal",
    "Refusal",
    "ReplyState",
    "Role",
    "SQLiteStore",
    "SharedCounters",
    "Store",
    "counters_for",
    "replica_lease",
]
