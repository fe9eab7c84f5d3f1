"""Leadership of single-consumer inputs: one replica at a time runs each of them.

When several processes run the same bot on one shared store (replicas on Redis, a rolling
deploy), an input that allows one consumer per account (``single_consumer = True``: a
Telegram ``getUpdates`` poller, a Discord gateway session per shard, Slack Socket Mode, X
polling, the terminal; see :mod:`agent_runner.connector`) must run in one of them only. Each
such input has a store lease, its ``lease_name``, and a replica runs the input only while it
holds that lease:

- it tries to take the lease every ``retry`` seconds (a standby replica waits so);
- it renews the lease every ``renew`` seconds (a third of ``ttl`` by default), well before it
  expires, and stops the input at once when a renewal fails or finds the lease taken;
- the input sees the store through a :class:`FencedStore`: its cursor writes (Telegram's
  offset, X's ``since_id``, Discord's backfill cursors) carry the holding's fencing token, so
  a paused old holder that wakes up after another replica took over has its writes refused
  (:class:`~agent_runner.errors.LeaseLostError`) and stops;
- a graceful stop (SIGTERM, ``runtime.stop()``) stops the input and releases the lease at
  once: another replica takes it within ``retry`` seconds;
- a holder killed (SIGKILL, a lost machine) stops renewing: its lease expires at most ``ttl``
  seconds later and another replica takes it within ``ttl + retry`` seconds of the kill
  (:attr:`InputLeases.takeover_bound`).

Inputs that name the same ``lease_group`` (the shards of one Discord bot) are shared out
evenly between the replicas (:mod:`agent_runner.runner.shares`); a killed replica's share
moves within ``ttl + renew + retry`` seconds.

The new holder resumes from the stored cursor. A message read by both the old and the new
holder is one journal key, handled once; the reply ledger sends each reply at most once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from agent_runner.connector import AgentInput, Sink
from agent_runner.errors import ConfigurationError, LeaseLostError
from agent_runner.runner.lifecycle import supervise_input
from agent_runner.runner.operations import Operations
from agent_runner.runner.shares import Shares
from agent_runner.store import Fence, Store

_log = logging.getLogger("agent_runner.runtime")


@dataclass(frozen=True, slots=True)
class InputLeases:
    """How replicas share single-consumer inputs (``AgentRuntime(input_leases=...)``).

    Args:
        ttl: seconds a holding lasts without renewal; a killed holder's input moves to
            another replica within ``ttl + retry`` seconds.
        retry: seconds between a standby replica's attempts to take a lease.
        renew: seconds between renewals (default: a third of ``ttl``); must be below ``ttl``.
    """

    ttl: float = 15.0
    retry: float = 1.0
    renew: float | None = None

    def __post_init__(self) -> None:
        if not (self.ttl > 0 and self.retry > 0):
            raise ConfigurationError(
                f"input_leases: ttl and retry must be positive seconds ({self.ttl}, {self.retry})"
            )
        if self.renew is not None and not 0 < self.renew < self.ttl:
            raise ConfigurationError(
                f"input_leases: renew ({self.renew}) must be between 0 and ttl ({self.ttl})"
            )

    @property
    def renew_every(self) -> float:
        """Seconds between two renewals of a held lease."""
        return self.renew if self.renew is not None else self.ttl / 3

    @property
    def takeover_bound(self) -> float:
        """Seconds within which a killed holder's input runs again on another replica."""
        return self.ttl + self.retry

    @property
    def replica_ttl(self) -> float:
        """Seconds a replica's own lease (:mod:`~agent_runner.runner.recovery`) lasts without
        renewal: ``ttl - renew_every``, so that it expires before the input leases of a
        killed replica do, and its messages are taken over before its inputs."""
        return self.ttl - self.renew_every

    @property
    def recovery_bound(self) -> float:
        """Seconds within which a killed replica's accepted messages are queued again on a
        live replica."""
        return self.replica_ttl + self.retry


class FencedStore:
    """The store as a single-consumer input sees it: every method of ``store`` as is, but a
    cursor write carries :attr:`fence`, the input's current holding, and is refused
    (:class:`~agent_runner.errors.LeaseLostError`) once that holding ended."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.fence: Fence | None = None
        """The holding the input runs under (None before the first one)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def cursor_set(self, name: str, value: str, *, fence: Fence | None = None) -> None:
        """Set cursor ``name`` under ``fence``, by default the input's current holding."""
        fence = fence or self.fence
        if fence is None:
            raise LeaseLostError(f"cursor {name!r} written by an input that never held its lease")
        await self.store.cursor_set(name, value, fence=fence)


def default_holder() -> str:
    """This process's name as a lease holder: host, pid and a random part (never reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Leadership:
    """Runs the runner's inputs: single-consumer ones only while this process holds their
    lease (see the module doc), the others at once.

    Args:
        leases: the lease timing; None runs every input at once (no leases).
        store: the shared store holding the leases.
        inputs: the runner's inputs.
        holder: this process's holder name (default :func:`default_holder`).
    """

    def __init__(
        self,
        leases: InputLeases | None,
        store: Store,
        inputs: Sequence[AgentInput],
        *,
        holder: str | None = None,
    ) -> None:
        self.leases = leases
        self.store = store
        self.holder = holder or default_holder()
        self._led = {
            id(i): FencedStore(store)
            for i in inputs
            if leases is not None and getattr(i, "single_consumer", False)
        }
        self.held: set[str] = set()
        """The leases this process holds now (the inputs it runs for every replica)."""
        self._groups = {
            id(i): str(getattr(i, "lease_group", None))
            for i in inputs
            if id(i) in self._led and getattr(i, "lease_group", None)
        }
        sizes = collections.Counter(self._groups.values())
        self._group_of: dict[str, str] = {}  # lease name -> its group, once taken
        self.shares = Shares(
            store,
            self.holder,
            ttl=leases.ttl if leases else 1.0,
            every=leases.renew_every if leases else 1.0,
            sizes={group: size for group, size in sizes.items() if size > 1},
        )
        """How this replica shares out inputs of one ``lease_group`` (:mod:`.shares`)."""
        self.operations: Operations | None = None
        """Told of input crashes (the operator endpoint's hooks), when set."""
        self.before_input: Callable[[], Awaitable[object]] | None = None
        """Awaited after a lease is taken and before its input runs (when set): the runner
        takes over dead replicas' messages first, so they go before the input's new ones."""

    @classmethod
    def of(
        cls, setting: InputLeases | bool | None, store: Store, inputs: Sequence[AgentInput]
    ) -> Leadership:
        """From ``AgentRuntime(input_leases=...)``: an :class:`InputLeases`, True (the
        defaults), False (off), or None: on when the store is shared between processes by
        design (``store.shared``: RedisStore), off otherwise (a SQLite file: pass True when
        processes share it)."""
        if setting is None:
            setting = bool(getattr(store, "shared", False))
        leases = InputLeases() if setting is True else (setting or None)
        return cls(leases, store, inputs)

    def runs_here(self, connector: object) -> bool:
        """Whether ``connector`` runs in this process now: an input led by a lease only while
        this process holds it (a standby replica's is not stalled, only standing by)."""
        if id(connector) not in self._led:
            return True
        name = getattr(connector, "lease_name", f"input:{getattr(connector, 'name', '?')}")
        return name in self.held

    def store_for(self, connector: object) -> Store:
        """The store ``connector`` gets in ``bind_store``: fenced for a led input."""
        view = self._led.get(id(connector))
        return self.store if view is None else cast(Store, view)

    def start(
        self,
        inputs: Sequence[AgentInput],
        sink: Sink,
        *,
        stop: asyncio.Event,
        base: float,
        cap: float,
    ) -> list[asyncio.Task[None]]:
        """One task per input, until ``stop`` is set: led inputs under their lease, the others
        supervised at once (restarted with capped backoff when they crash)."""
        members = [
            asyncio.create_task(self.shares.run(group, stop), name=f"agent-runner {group}")
            for group in self.shares.sizes
        ]
        return members + [
            asyncio.create_task(
                self._lead(connector, sink, stop=stop, base=base, cap=cap)
                if id(connector) in self._led
                else supervise_input(
                    connector, sink, stop=stop, base=base, cap=cap, operations=self.operations
                ),
                name=f"agent-runner input {connector.name}",
            )
            for connector in inputs
        ]

    def _group(self, connector: AgentInput) -> str | None:
        group = self._groups.get(id(connector))
        return group if group in self.shares.sizes else None

    def _holding(self, group: str) -> int:
        return sum(1 for name in self.held if self._group_of.get(name) == group)

    async def _may_take(self, group: str | None) -> bool:
        """A free lease of ``group`` may be taken: this replica holds less than its share."""
        if group is None:
            return True
        await self.shares.counted(group)
        return self._holding(group) < self.shares.share(group)

    async def _lead(
        self, connector: AgentInput, sink: Sink, *, stop: asyncio.Event, base: float, cap: float
    ) -> None:
        leases, view = self.leases, self._led[id(connector)]
        assert leases is not None
        name: str = getattr(connector, "lease_name", f"input:{connector.name}")
        group = self._group(connector)
        if group is not None:
            self._group_of[name] = group
        standing_by = False
        try:
            while not stop.is_set():
                token = await self._acquire(name) if await self._may_take(group) else None
                if token is None:
                    if not standing_by:
                        _log.info(
                            "input %r: lease %s is held elsewhere (or is another replica's "
                            "share); standing by",
                            connector.name,
                            name,
                        )
                    standing_by = True
                    await _wait(stop, leases.retry)
                    continue
                standing_by = False
                if self.before_input is not None:
                    await self.before_input()
                view.fence = Fence(name, token)
                self.held.add(name)
                _log.info(
                    "input %r: took lease %s (token %d); running it here",
                    connector.name,
                    name,
                    token,
                )
                try:
                    done = await self._hold(
                        connector, sink, view.fence, stop=stop, base=base, cap=cap
                    )
                finally:
                    self.held.discard(name)
                if done:
                    return
                await _wait(stop, leases.retry)
        finally:
            if view.fence is not None:  # ours or not: releasing someone else's is a no-op
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(leases.retry + 5.0):
                        await self.store.lease_release(name, self.holder)
                _log.info("input %r: lease %s released", connector.name, name)

    async def _hold(
        self,
        connector: AgentInput,
        sink: Sink,
        fence: Fence,
        *,
        stop: asyncio.Event,
        base: float,
        cap: float,
    ) -> bool:
        """Run the input while the holding lasts. True when it is over for good (stopped, or
        the input finished by itself); False when the lease was lost (stand by again)."""
        assert self.leases is not None
        over = asyncio.Event()
        run = asyncio.ensure_future(
            supervise_input(
                connector, sink, stop=over, base=base, cap=cap, operations=self.operations
            )
        )
        renew = asyncio.ensure_future(self._renew(fence, self._group(connector)))
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({run, renew, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            over.set()
            renew.cancel()
            stopped.cancel()
            if not run.done():
                await _stop_input(connector, run, grace=self.leases.ttl)
        ended = renew.done() and not renew.cancelled()
        if ended and renew.result() and not stop.is_set():  # over its share: give it back
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.leases.ttl):
                    await self.store.lease_release(fence.lease, self.holder)
            _log.info("input %r: lease %s handed to another replica", connector.name, fence.lease)
            return False
        if (ended or _lost(run)) and not stop.is_set():
            _log.warning(
                "input %r stopped: lease %s lost (another replica may run it now)",
                connector.name,
                fence.lease,
            )
            return False
        return True

    async def _renew(self, fence: Fence, group: str | None) -> bool:
        """Renew the holding every ``renew_every`` seconds until it ended (False) or this
        replica holds more than its share of ``group`` (True: it gives this one back)."""
        assert self.leases is not None
        every = self.leases.renew_every
        while True:
            await asyncio.sleep(every)
            try:
                async with asyncio.timeout(every):
                    token = await self.store.lease_acquire(
                        fence.lease, self.holder, self.leases.ttl
                    )
            except Exception as exc:  # the store unreachable: the holding can no longer be trusted
                _log.warning("renewing lease %s failed: %r", fence.lease, exc)
                return False
            if token != fence.token:
                return False
            if group is not None and self._holding(group) > self.shares.share(group):
                self.held.discard(fence.lease)  # now, so that one input of the group yields
                return True

    async def _acquire(self, name: str) -> int | None:
        assert self.leases is not None
        try:
            async with asyncio.timeout(self.leases.ttl):
                return await self.store.lease_acquire(name, self.holder, self.leases.ttl)
        except Exception as exc:  # the store unreachable now: try again after `retry`
            _log.warning("taking lease %s failed: %r", name, exc)
            return None


def _lost(run: asyncio.Future[None]) -> bool:
    return run.done() and not run.cancelled() and isinstance(run.exception(), LeaseLostError)


async def _stop_input(connector: AgentInput, run: asyncio.Future[None], *, grace: float) -> None:
    try:
        await connector.stop()
    except Exception:  # stopping failed: the task is cancelled below if it does not return
        _log.exception("stopping input %r failed", connector.name)
    await asyncio.wait({run}, timeout=grace)
    if not run.done():
        _log.warning("input %r did not return after stop(); cancelled", connector.name)
        run.cancel()
    await asyncio.gather(run, return_exceptions=True)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


__all__ = ["FencedStore", "InputLeases", "Leadership", "default_holder"]
