"""The in-process :class:`InMemoryStore`: the Store contract on plain dicts.

Nothing survives the process. Use it in tests and when durability is explicitly not wanted::

    store = InMemoryStore()
    await store.open()
    assert await store.journal_accept("http:1", "http:c1", payload) is True
    assert await store.journal_accept("http:1", "http:c1", payload) is False   # duplicate

Every method runs without awaiting anything, so each call is atomic with respect to the other
tasks of the event loop: two concurrent ``reply_claim`` calls for one key never both win.
"""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from agent_runner.store import MemoryItem
from agent_runner.store._base import (
    CostEntry,
    Fence,
    JournalEntry,
    LeaseInfo,
    ReplyState,
    lease_ttl_ms,
    replica_lease,
    source_of_key,
)
from agent_runner.store._counters import InMemoryCounters


@dataclass(slots=True)
class ReplyRecord:
    """The state of one claimed reply (``ok`` is None until its result is recorded)."""

    claimed_at: float
    ok: bool | None = None
    error: str | None = None
    attempts: int = 1
    parts: dict[int, str] = field(default_factory=dict)


class InMemoryStore:
    """A :class:`~agent_runner.store.Store` kept in process memory (lost on exit).

    Args:
        clock: the time source for ``accepted_at`` and similar stamps (Unix seconds).

    Example:
        >>> store = InMemoryStore()
        >>> # await store.open(); await store.state_set("k", "v")
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counters = InMemoryCounters(clock=clock)
        self._seq = 0
        self._journal_keys: set[str] = set()
        self._pending: OrderedDict[str, JournalEntry] = OrderedDict()
        self._replies: dict[tuple[str, str], ReplyRecord] = {}
        self._cursors: dict[str, str] = {}
        self._memory: defaultdict[str, list[MemoryItem]] = defaultdict(list)
        self._costs: list[CostEntry] = []
        self._payments: dict[str, str] = {}
        self._state: dict[str, str] = {}
        self._owners: dict[str, str] = {}  # pending key -> its owner
        self._leases: dict[str, LeaseInfo] = {}
        self._lease_tokens: dict[str, int] = {}

    async def open(self) -> None:
        """Nothing to connect; idempotent."""

    async def close(self) -> None:
        """Nothing to release; the data stays readable. Idempotent."""

    async def flush(self) -> None:
        """Every write is applied when its call returns: nothing to wait for."""

    # -- journal -------------------------------------------------------------------
    async def journal_accept(
        self, key: str, conversation_key: str, payload: str, *, owner: str = ""
    ) -> bool:
        if key in self._journal_keys:
            return False
        self._journal_keys.add(key)
        self._owners[key] = owner
        self._seq += 1
        self._pending[key] = JournalEntry(
            seq=self._seq,
            key=key,
            conversation_key=conversation_key,
            payload=payload,
            accepted_at=self._clock(),
        )
        return True

    async def journal_complete(self, key: str, *, owner: str = "") -> None:
        self._pending.pop(key, None)
        self._owners.pop(key, None)

    async def journal_pending(self) -> list[JournalEntry]:
        return list(self._pending.values())

    async def journal_owners(self) -> list[str]:
        return sorted(set(self._owners.values()))

    async def journal_adopt(
        self, owner: str, *, by: str, fence: Fence, sources: Collection[str]
    ) -> list[JournalEntry]:
        held = self._held(fence.lease)
        if held is None or held.token != fence.token:
            raise fence.refused()
        if self._held(replica_lease(owner)) is not None:
            return []
        keys = [
            key for key, of in self._owners.items() if of == owner and source_of_key(key) in sources
        ]
        for key in keys:
            self._owners[key] = by
        return sorted((self._pending[key] for key in keys), key=lambda entry: entry.seq)

    # -- replies ---------------------------------------------------------------------
    async def reply_claim(self, key: str, output: str) -> bool:
        if (key, output) in self._replies:
            return False
        self._replies[(key, output)] = ReplyRecord(claimed_at=self._clock())
        return True

    async def reply_open(self, key: str, output: str) -> ReplyState:
        record = self._replies.get((key, output))
        if record is None:
            self._replies[(key, output)] = ReplyRecord(claimed_at=self._clock())
            return ReplyState(attempt=1)
        if record.ok is None:
            record.attempts += 1
        return ReplyState(record.attempts, record.ok, record.error, dict(record.parts))

    async def reply_part(self, key: str, output: str, part: int, ref: str) -> None:
        record = self._replies.setdefault((key, output), ReplyRecord(claimed_at=self._clock()))
        record.parts[part] = ref

    async def reply_result(
        self, key: str, output: str, *, ok: bool, error: str | None = None
    ) -> None:
        record = self._replies.setdefault((key, output), ReplyRecord(claimed_at=self._clock()))
        record.ok = ok
        record.error = error

    def reply_record(self, key: str, output: str) -> ReplyRecord | None:
        """The recorded state of a reply (for tests and diagnostics)."""
        return self._replies.get((key, output))

    # -- cursors ---------------------------------------------------------------------
    async def cursor_get(self, name: str) -> str | None:
        return self._cursors.get(name)

    async def cursor_set(self, name: str, value: str, *, fence: Fence | None = None) -> None:
        if fence is not None:
            held = self._held(fence.lease)
            if held is None or held.token != fence.token:
                raise fence.refused()
        self._cursors[name] = value

    # -- conversation memory ---------------------------------------------------------
    async def memory_load(self, conversation_key: str, limit: int) -> list[MemoryItem]:
        if limit <= 0:
            return []
        return list(self._memory.get(conversation_key, ())[-limit:])

    async def memory_append(
        self, conversation_key: str, items: Sequence[MemoryItem], *, keep: int
    ) -> None:
        kept = self._memory[conversation_key]
        kept.extend(items)
        if keep <= 0:
            kept.clear()
        elif len(kept) > keep:
            del kept[:-keep]
        if not kept:
            del self._memory[conversation_key]

    # -- cost ledger -----------------------------------------------------------------
    async def cost_add(self, entry: CostEntry) -> None:
        self._costs.append(entry)

    async def cost_sum(
        self, *, conversation_key: str | None = None, day: str | None = None
    ) -> float:
        return sum(
            (
                e.cost
                for e in self._costs
                if (conversation_key is None or e.conversation_key == conversation_key)
                and (day is None or e.day == day)
            ),
            0.0,
        )

    # -- payments --------------------------------------------------------------------
    async def payment_use(self, reference: str, *, key: str) -> bool:
        """Mark ``reference`` used by request ``key``.

        True the first time, and again for the same ``key`` (the same request handled again
        after a restart); False when another request used it.
        """
        owner = self._payments.setdefault(reference, key)
        return owner == key

    # -- key-value state -------------------------------------------------------------
    async def state_get(self, key: str) -> str | None:
        return self._state.get(key)

    async def state_set(self, key: str, value: str) -> None:
        self._state[key] = value

    async def state_delete(self, key: str) -> None:
        self._state.pop(key, None)

    # -- leases ----------------------------------------------------------------------
    async def lease_acquire(self, name: str, holder: str, ttl: float) -> int | None:
        expires_at = self._clock() + lease_ttl_ms(ttl) / 1000
        held = self._held(name)
        if held is not None and held.holder != holder:
            return None
        if held is None:
            token = self._lease_tokens.get(name, 0) + 1
            self._lease_tokens[name] = token
        else:
            token = held.token
        self._leases[name] = LeaseInfo(holder=holder, token=token, expires_at=expires_at)
        return token

    async def lease_release(self, name: str, holder: str) -> None:
        held = self._held(name)
        if held is not None and held.holder == holder:
            del self._leases[name]

    async def lease_holder(self, name: str) -> LeaseInfo | None:
        return self._held(name)

    def counters(self) -> InMemoryCounters:
        """This store's shared counters (shared by the tasks of this process)."""
        return self._counters

    def _held(self, name: str) -> LeaseInfo | None:
        held = self._leases.get(name)
        if held is not None and held.expires_at <= self._clock():
            del self._leases[name]
            return None
        return held


__all__ = ["InMemoryStore", "ReplyRecord"]
