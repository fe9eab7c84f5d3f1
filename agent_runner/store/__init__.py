"""Stores: the journal, reply claims, cursors, memory, ledger and state the runner keeps."""

from agent_runner.store._base import CostEntry, JournalEntry, Store

__all__ = ["CostEntry", "JournalEntry", "Store"]
