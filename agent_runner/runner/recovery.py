"""Recovery of accepted messages nobody answered: at start, and from replicas that died.

An input is told a message was accepted (the platform acknowledged, the cursor moved) once
the message is journaled; its journal entry stays pending until its replies are sent. A
process that dies in between leaves the entry pending. On its own store (one process), the
next start queues every pending entry again (:func:`~.lifecycle.recover_journal`).

Replicas sharing a store (input leases on, :mod:`.leadership`) do not wait for a restart.
With a store that records owners (:class:`~agent_runner.store.OwnedJournal`: SQLite, Redis,
in memory), each replica

- holds its *replica lease*, ``replica:<holder>``, while it runs: renewed every
  ``replica_ttl / 3`` seconds, released once its shutdown has drained what it could;
- journals what it accepts as its own (the entry's owner is the replica);
- every ``retry`` seconds, and before it starts a single-consumer input it has just taken,
  adopts the pending entries of every owner whose replica lease is not held: a replica that
  was killed, or one whose shutdown grace cut messages short. The adoption is one atomic
  step in the store, fenced by the adopter's own replica lease, so each entry moves to one
  live replica, which queues the messages in their conversations as a start would.

A replica's lease lasts ``replica_ttl = ttl - renew`` seconds (:class:`.InputLeases`), less
than its input leases: when a replica is killed, its messages are taken over before its
single-consumer inputs are, so in each conversation they still go before the new ones. A
killed replica's messages are queued again on a live replica within ``replica_ttl + retry``
seconds (:attr:`.InputLeases.recovery_bound`; 11 s with the defaults). The reply ledger sends
each reply at most once, whichever replica sends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any, cast

from agent_runner.errors import LeaseLostError
from agent_runner.message import Message
from agent_runner.runner.leadership import InputLeases
from agent_runner.runner.lifecycle import recover_journal, requeue
from agent_runner.store import Fence, OwnedJournal, Store, replica_lease

_log = logging.getLogger("agent_runner.runtime")

Submit = Callable[[Message, asyncio.Future[bool]], None]
"""Queues an accepted message in its conversation (``ConversationMailboxes.submit``)."""


class OwnedStore:
    """The store as the runner's sink and reply sender see it: every method of ``store`` as
    is, but journal writes name ``owner``, this replica."""

    def __init__(self, store: OwnedJournal, owner: str) -> None:
        self.store = store
        self.owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def journal_accept(self, key: str, conversation_key: str, payload: str) -> Awaitable[bool]:
        """Journal an accepted input as this replica's."""
        return self.store.journal_accept(key, conversation_key, payload, owner=self.owner)

    def journal_complete(self, key: str) -> Awaitable[None]:
        """Mark one of this replica's inputs handled."""
        return self.store.journal_complete(key, owner=self.owner)


class Recovery:
    """Accepted messages nobody answered, queued again (see the module doc).

    Args:
        store: the runner's store.
        leases: the replicas' lease timing; None (leases off) recovers at start only.
        holder: this replica's holder name, the owner of what it journals.
        sources: the names of this runner's connectors (another bot's entries stay).
    """

    def __init__(
        self,
        store: Store,
        *,
        leases: InputLeases | None,
        holder: str,
        sources: Collection[str],
    ) -> None:
        self.store = store
        self.leases = leases
        self.holder = holder
        self.sources = frozenset(sources)
        self.journal: OwnedJournal | None = (
            store if leases is not None and isinstance(store, OwnedJournal) else None
        )
        """The store's owned journal when replicas take over each other's messages."""
        self.lease = replica_lease(holder)
        self.adopted = 0
        """Messages taken over from other replicas since start."""
        self.takeovers = 0
        """Adoptions that took over at least one message since start (the operator
        endpoint's ``agent_runner_recovery_*_total`` read both)."""
        self._fence: Fence | None = None
        self._submit: Submit | None = None
        self._lock = asyncio.Lock()
        self._sweeping = False
        self._task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    def view(self) -> Store:
        """The store for the sink and the reply sender: :class:`OwnedStore` when owned."""
        if self.journal is None:
            return self.store
        return cast(Store, OwnedStore(self.journal, self.holder))

    async def start(self, submit: Submit, *, stop: asyncio.Event) -> None:
        """Queue what is left to answer, before the inputs start; with replicas, take this
        replica's lease and keep taking over dead replicas' messages until :meth:`close`
        (sweeps end once ``stop`` is set; the lease is renewed until :meth:`close`)."""
        if self.journal is None or self.leases is None:
            await recover_journal(self.store, submit, self.sources)
            return
        self._submit = submit
        self._closed.clear()
        self._sweeping = True
        async with asyncio.timeout(self.leases.ttl):
            token = await self.store.lease_acquire(self.lease, self.holder, self.leases.replica_ttl)
        if token is None:  # the holder name is this process's own: nobody else takes it
            raise LeaseLostError(f"replica lease {self.lease!r} is held by another process")
        self._fence = Fence(self.lease, token)
        await self._adopt("")  # accepted by a process that names no owner (one on its own)
        await self.sweep()
        self._task = asyncio.create_task(self._run(stop), name="agent-runner recovery")

    async def sweep(self) -> int:
        """Take over the messages of every replica whose lease is not held; how many."""
        if self.journal is None or self._fence is None:
            return 0
        async with self._lock:
            if not self._sweeping:
                return 0
            try:
                adopted = 0
                for owner in await self.journal.journal_owners():
                    # A read first: adopting is a write (a SQLite file's write lock) per owner.
                    if owner not in ("", self.holder) and not await self._alive(owner):
                        adopted += await self._adopt(owner)
                return adopted
            except Exception as exc:  # the store unreachable, or this lease lost: next sweep
                _log.warning("taking over other replicas' messages failed: %r", exc)
                return 0

    async def quiesce(self) -> None:
        """Take over nothing more, once a sweep in progress is done (the runner stopping:
        what is taken over must be in the mailboxes before they drain)."""
        self._sweeping = False
        async with self._lock:
            pass

    async def close(self) -> None:
        """Stop renewing and release this replica's lease (after the shutdown's drain: what
        is still journaled as this replica's is taken over by the others at once)."""
        self._closed.set()
        task, self._task = self._task, None
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        if self._fence is not None and self.leases is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.leases.retry + 5.0):
                    await self.store.lease_release(self.lease, self.holder)
            self._fence = None

    async def _alive(self, owner: str) -> bool:
        return await self.store.lease_holder(replica_lease(owner)) is not None

    async def _adopt(self, owner: str) -> int:
        assert self.journal is not None and self._fence is not None and self._submit
        entries = await self.journal.journal_adopt(
            owner, by=self.holder, fence=self._fence, sources=self.sources
        )
        if entries:
            _log.warning(
                "took over %d accepted message(s) not yet answered from %s",
                len(entries),
                f"replica {owner}" if owner else "an earlier run",
            )
            self.adopted += len(entries)
            self.takeovers += 1
            await requeue(self.view(), entries, self._submit)
        return len(entries)

    async def _run(self, stop: asyncio.Event) -> None:
        """Renew the lease until :meth:`close`; sweep every ``retry`` seconds until ``stop``."""
        assert self.leases is not None
        loop = asyncio.get_running_loop()
        every = self.leases.replica_ttl / 3
        renewed = loop.time()
        while not self._closed.is_set():
            if not stop.is_set():  # (the runner quiesces the sweeps before its drain)
                await self.sweep()
            with contextlib.suppress(TimeoutError):
                wait = min(self.leases.retry, max(0.0, renewed + every - loop.time()))
                await asyncio.wait_for(self._closed.wait(), wait)
            if loop.time() - renewed >= every and not self._closed.is_set():
                await self._renew()
                renewed = loop.time()

    async def _renew(self) -> None:
        assert self.leases is not None and self._fence is not None
        try:
            async with asyncio.timeout(self.leases.replica_ttl / 3):
                token = await self.store.lease_acquire(
                    self.lease, self.holder, self.leases.replica_ttl
                )
        except Exception as exc:  # the store unreachable: try again at the next renewal
            _log.warning("renewing replica lease %s failed: %r", self.lease, exc)
            return
        if token is not None and token != self._fence.token:
            _log.warning(
                "replica lease %s had expired (a pause, or the store unreachable): other "
                "replicas may have taken over this replica's messages (handled twice, "
                "answered once)",
                self.lease,
            )
            self._fence = Fence(self.lease, token)


__all__ = ["OwnedStore", "Recovery"]
