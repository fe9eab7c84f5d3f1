"""The :class:`Store` contract: everything the runner keeps across restarts.

One store holds: the journal of accepted inputs (delivery: at least once), the reply ledger
(per reply and output: claimed, attempts, outcome, and the parts delivered so far), connector
cursors (X's ``since_id``, Discord's
last seen message id), conversation memory, the cost ledger, used payment references and a
small key-value space for agent state.

Implementations: :class:`~agent_runner.store.SQLiteStore` (embedded default, a local file),
:class:`~agent_runner.store.InMemoryStore` (tests) and ``RedisStore`` (shared by workers).
Every method is safe to call concurrently from many tasks; writes on the hot path
(``journal_accept``, ``reply_claim``) are group-committed, so many concurrent callers share
one durable write.

Leases (``lease_acquire``, ``lease_release``, ``lease_holder``) make something happen in one
process at a time across every process sharing the store: a single-consumer input (one
Telegram poller per bot), a cron slot fired once. A lease has a holder and a fencing token;
the token grows each time the lease changes holder, so a write carrying a :class:`Fence`
(``cursor_set(..., fence=...)``) is refused with :class:`~agent_runner.errors.LeaseLostError`
once its holder lost the lease, even if that holder was paused and does not know it yet.

Replicas sharing a store also share its journal. A store that implements
:class:`OwnedJournal` (all three built-in ones) records which process accepted each pending
entry (its *owner*), so that a live replica can take over, fenced, the entries of one that
died before answering them (:mod:`agent_runner.runner.recovery`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from agent_runner.errors import LeaseLostError
from agent_runner.message import KEY_SEPARATOR

Role = Literal["user", "assistant", "system", "tool"]


@dataclass(frozen=True, slots=True)
class MemoryItem:
    """One remembered turn of a conversation."""

    role: Role
    text: str
    name: str | None = None
    message_key: str | None = None
    created_at: float = 0.0
    """Unix time, seconds."""
    tokens: int = 0
    """Token count as measured by the memory's token counter when stored."""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """An accepted input as journaled. ``seq`` orders entries by acceptance."""

    seq: int
    key: str
    conversation_key: str
    payload: str
    """The Message as JSON (``Message.model_dump_json()``)."""
    accepted_at: float


@dataclass(frozen=True, slots=True)
class CostEntry:
    """One priced use of a model."""

    request_key: str
    conversation_key: str
    model: str
    input_tokens: int
    output_tokens: int
    cost: float
    day: str
    """UTC day, ``YYYY-MM-DD``."""
    at: float


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """Who holds a lease now (:meth:`Store.lease_holder`)."""

    holder: str
    token: int
    """The fencing token of this holding (see :meth:`Store.lease_acquire`)."""
    expires_at: float
    """Unix time, seconds, by this process's clock (RedisStore: derived from the server's TTL)."""


@dataclass(frozen=True, slots=True)
class Fence:
    """Proof of holding lease ``lease`` with token ``token``, carried by a fenced write.

    The store applies the write only while that lease is held, unexpired, with that token;
    otherwise it raises :class:`~agent_runner.errors.LeaseLostError` and writes nothing.
    """

    lease: str
    token: int

    def refused(self) -> LeaseLostError:
        """The error a store raises when this fence's holding has ended."""
        return LeaseLostError(
            f"lease {self.lease!r} is no longer held with token {self.token}: "
            "it was released, expired or taken over",
            lease=self.lease,
            token=self.token,
        )


def lease_ttl_ms(ttl: float) -> int:
    """``ttl`` (seconds) in whole milliseconds, at least 1; ValueError unless positive."""
    if not ttl > 0:
        raise ValueError(f"a lease's ttl must be positive seconds, not {ttl!r}")
    return max(1, round(ttl * 1000))


def replica_lease(owner: str) -> str:
    """The lease a journal owner (a replica) holds while it lives: ``replica:<owner>``."""
    return f"replica:{owner}"


def source_of_key(key: str) -> str:
    """The input a journal key (``Message.key``) belongs to: the text before its first
    :data:`~agent_runner.message.KEY_SEPARATOR`."""
    return key.split(KEY_SEPARATOR, 1)[0]


@dataclass(frozen=True, slots=True)
class ReplyState:
    """What the reply ledger knows of one reply on one output (see :meth:`Store.reply_open`).

    ``ok`` is None while no outcome is recorded: the reply is being sent now (``attempt``
    1: this caller claimed it), or an earlier attempt ended with the process (``attempt`` >
    1: its outcome is unknown and must be resolved, never assumed).
    """

    attempt: int
    """1 when this call claimed the reply; n when it is the n-th attempt at it."""
    ok: bool | None = None
    error: str | None = None
    parts: Mapping[int, str] = field(default_factory=dict)
    """Parts of a split reply recorded as delivered: part index -> the platform's id."""

    @property
    def done(self) -> bool:
        """An outcome is recorded: nothing is left to send."""
        return self.ok is not None

    @property
    def resumed(self) -> bool:
        """An earlier attempt's outcome is unknown (it was claimed, then the process ended)."""
        return self.ok is None and self.attempt > 1


@runtime_checkable
class Store(Protocol):
    async def open(self) -> None:
        """Connect / create tables. Idempotent."""
        ...

    async def close(self) -> None:
        """Flush pending writes and release resources. Idempotent."""
        ...

    async def flush(self) -> None:
        """Wait until every write issued so far is durable."""
        ...

    # -- journal -------------------------------------------------------------------
    async def journal_accept(self, key: str, conversation_key: str, payload: str) -> bool:
        """Durably record an accepted input. False when ``key`` was journaled before."""
        ...

    async def journal_complete(self, key: str) -> None:
        """Mark the input handled (its replies claimed or sent). May be written lazily."""
        ...

    async def journal_pending(self) -> list[JournalEntry]:
        """Accepted but not completed inputs, in acceptance order (for recovery)."""
        ...

    # -- replies ---------------------------------------------------------------------
    async def reply_claim(self, key: str, output: str) -> bool:
        """Atomically claim the one right to send reply ``key`` on ``output``.

        True for the first caller ever (in any process sharing the store), False after.
        ``key`` is the message key, with ``#n`` appended for the n-th reply of a message.
        """
        ...

    async def reply_open(self, key: str, output: str) -> ReplyState:
        """Atomically claim reply ``key`` on ``output``, or take it up again (the reply ledger).

        The first call ever claims it (``attempt`` 1, durable before it returns). A later
        call finds either its outcome (``done``: nothing to send) or none: then an earlier
        attempt ended with its process, and this call counts the next attempt and returns
        the parts already delivered, so the caller resumes instead of skipping or repeating.
        ``key`` is the message key with ``#n`` appended for the n-th reply of a message.
        """
        ...

    async def reply_part(self, key: str, output: str, part: int, ref: str) -> None:
        """Durably record part ``part`` of a split reply as delivered (``ref``: its id)."""
        ...

    async def reply_result(
        self, key: str, output: str, *, ok: bool, error: str | None = None
    ) -> None:
        """Record the outcome of a claimed reply."""
        ...

    # -- cursors ---------------------------------------------------------------------
    async def cursor_get(self, name: str) -> str | None: ...

    async def cursor_set(self, name: str, value: str, *, fence: Fence | None = None) -> None:
        """Set cursor ``name``. With ``fence``, only while that lease is held with its token.

        Raises:
            LeaseLostError: ``fence`` is given and its token is no longer the lease's
                (released, expired or taken over); the cursor is left as it was.
        """
        ...

    # -- conversation memory ---------------------------------------------------------
    async def memory_load(self, conversation_key: str, limit: int) -> list[MemoryItem]:
        """The last ``limit`` items of the conversation, oldest first."""
        ...

    async def memory_append(
        self, conversation_key: str, items: Sequence[MemoryItem], *, keep: int
    ) -> None:
        """Append items, then keep only the newest ``keep`` of the conversation."""
        ...

    # -- cost ledger -----------------------------------------------------------------
    async def cost_add(self, entry: CostEntry) -> None: ...

    async def cost_sum(
        self, *, conversation_key: str | None = None, day: str | None = None
    ) -> float:
        """Total cost, optionally of one conversation and/or one UTC day."""
        ...

    # -- payments --------------------------------------------------------------------
    async def payment_use(self, reference: str, *, key: str) -> bool:
        """Mark a payment reference used by request ``key``.

        True the first time, and again for the same ``key`` (that request handled again after
        a restart); False when another request used it (a replay).
        """
        ...

    # -- key-value state -------------------------------------------------------------
    async def state_get(self, key: str) -> str | None: ...

    async def state_set(self, key: str, value: str) -> None: ...

    async def state_delete(self, key: str) -> None: ...

    # -- leases ----------------------------------------------------------------------
    async def lease_acquire(self, name: str, holder: str, ttl: float) -> int | None:
        """Take lease ``name`` for ``ttl`` seconds, or renew it when ``holder`` holds it.

        Atomic across every process sharing the store. Returns the fencing token, or None
        when another holder has an unexpired lease. Renewing an unexpired holding keeps its
        token; taking a free or expired lease gives a token greater than every token that
        lease had before (tokens are never reused, also after expiry or release).

        A lease that is never released expires after ``ttl`` and may then be taken again:
        to do something once across processes (a cron slot), acquire
        ``"schedule:<id>:<slot>"`` with a ``ttl`` that lasts until the slot may no longer
        fire, act only when a token comes back, and do not release it.

        Raises:
            ValueError: ``ttl`` is not positive.
        """
        ...

    async def lease_release(self, name: str, holder: str) -> None:
        """Give lease ``name`` up at once; no effect unless ``holder`` holds it."""
        ...

    async def lease_holder(self, name: str) -> LeaseInfo | None:
        """The current unexpired holding of lease ``name``, or None when it is free."""
        ...


@runtime_checkable
class OwnedJournal(Protocol):
    """A journal whose pending entries each belong to one process, their *owner*: the
    replica that accepted them, or the one that adopted them since.

    An owner is alive while it holds the lease :func:`replica_lease` ``(owner)``. The
    entries of an owner whose lease is not held (it died, or stopped with entries left) are
    adopted by a live replica with :meth:`journal_adopt`, atomically and at most once. The
    owner ``""`` stands for entries accepted by a process that names none (one process on its
    own store); no lease is ever held for it.
    """

    async def journal_accept(
        self, key: str, conversation_key: str, payload: str, *, owner: str = ""
    ) -> bool:
        """:meth:`Store.journal_accept`, the entry owned by ``owner``."""
        ...

    async def journal_complete(self, key: str, *, owner: str = "") -> None:
        """:meth:`Store.journal_complete` of an entry ``owner`` owns."""
        ...

    async def journal_owners(self) -> list[str]:
        """The owners that have (or recently had) pending entries."""
        ...

    async def journal_adopt(
        self, owner: str, *, by: str, fence: Fence, sources: Collection[str]
    ) -> list[JournalEntry]:
        """Move ``owner``'s pending entries of ``sources`` (the input names before the key's
        first ``:``) to ``by``, and return them in acceptance order.

        Atomic across every process sharing the store, and only while ``fence`` (``by``'s
        own :func:`replica_lease`) holds and ``owner``'s lease is not held: an empty list when
        ``owner`` is alive (or nothing is pending), so each entry is adopted at most once.

        Raises:
            LeaseLostError: ``fence`` no longer holds (``by`` itself was taken for dead).
        """
        ...


__all__ = [
    "CostEntry",
    "Fence",
    "JournalEntry",
    "LeaseInfo",
    "MemoryItem",
    "OwnedJournal",
    "ReplyState",
    "Role",
    "Store",
    "lease_ttl_ms",
    "replica_lease",
    "source_of_key",
]
