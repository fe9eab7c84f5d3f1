"""A runner's operator endpoint: its metrics, what it knows of itself, and its server.

:class:`OperatorEndpoint` is what :class:`~agent_runner.AgentRuntime` owns when the endpoint
is on (``runtime.operator``): the :class:`~agent_runner.observability.metrics.RunnerMetrics`
its hooks feed, and the :class:`~agent_runner.observability.admin.AdminServer` started with
the runner and stopped after it. ``operator.add_routes(...)`` mounts more routes behind the
endpoint's token (the approvals API: :func:`agent_runner.approvals.approval_routes`).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from aiohttp import web

from agent_runner.observability.admin import AdminServer
from agent_runner.observability.distributed import DistributedCollector
from agent_runner.observability.health import (
    Reason,
    StoreProbe,
    budget_reasons,
    budget_status,
    connector_reasons,
    crash_reasons,
    reason,
)
from agent_runner.observability.metrics import RunnerMetrics
from agent_runner.observability.recovery import Adoptions, RecoveryCollector
from agent_runner.observability.settings import AdminSettings
from agent_runner.pricing import Pricing
from agent_runner.settings import read_settings
from agent_runner.store import Store

if TYPE_CHECKING:
    from agent_runner.runner.operations import Operations

_log = logging.getLogger("agent_runner.admin")

Check = Callable[[], Awaitable[list[Reason]]]
"""A readiness check: the reasons it fails (empty: fine)."""

worker_operations: ContextVar[Operations | None] = ContextVar(
    "agent_runner_worker_operations", default=None
)
"""The hooks of the worker process's endpoint while ``agent-runner worker`` registers its
agent types: ``AgentRuntime.register_conversations`` feeds the worker's metrics with them."""

STORE_TIMEOUT = 2.0
"""Seconds a store read for the endpoint may take."""


class OperatorEndpoint:
    """Metrics and the admin server of one runner (see the module doc).

    Args:
        settings: where to listen (``AdminSettings()`` reads ``AGENT_RUNNER_ADMIN_*``).
        role: ``runner`` or ``worker``, shown in the status.
    """

    def __init__(self, settings: AdminSettings, *, role: str = "runner") -> None:
        self.settings = settings
        self.role = role
        self.metrics = RunnerMetrics(show_text=settings.show_text)
        """The Prometheus metrics (the runner's operations hooks)."""
        self.server: AdminServer | None = None
        """The server while it runs."""
        self._routes: list[web.RouteDef] = []
        self._store: Store | None = None
        self._ready: asyncio.Event | None = None
        self._pending: Callable[[], int] = lambda: 0
        self._connectors: Sequence[object] = ()
        self._pricing: Pricing | None = None
        self._probe: StoreProbe | None = None
        self._checks: list[Check] = []
        self._watched: list[object] = []
        self._runs_here: Callable[[object], bool] = lambda connector: True
        self._since: dict[str, float] = {}
        """Connector name -> when /readyz first saw it running here (its stall watch)."""
        self._started_at = time.time()

    @classmethod
    def configured(
        cls, settings: AdminSettings | None = None, *, role: str = "runner"
    ) -> OperatorEndpoint | None:
        """The endpoint ``settings`` (default: from the environment) ask for; ``None`` when
        ``AGENT_RUNNER_ADMIN_PORT`` is 0."""
        settings = settings if settings is not None else read_settings(AdminSettings)
        return cls(settings, role=role) if settings.enabled else None

    def watch(self, runtime: object, recovery: Adoptions | None = None) -> None:
        """Expose the metrics of a distributed ``runtime`` (partitions, claims,
        redeliveries, RPC outcomes, outbox depth; other runtimes have none) and of the
        runner's ``recovery`` (messages taken over from other replicas). Once per object."""
        if recovery is not None and recovery not in self._watched:
            self._watched.append(recovery)
            self.metrics.registry.register(RecoveryCollector(recovery))
        distributed = sys.modules.get("agent_runner.distributed")  # (Redis may be absent)
        if distributed is None or not isinstance(runtime, distributed.DistributedAgentRuntime):
            return
        if runtime not in self._watched:
            from agent_runner.distributed._stats import operator_stats

            self._watched.append(runtime)
            self.metrics.registry.register(DistributedCollector(operator_stats(runtime)))

    def add_routes(self, routes: Iterable[web.RouteDef]) -> None:
        """Mount ``routes`` on the endpoint, behind its token (before it starts)."""
        if self.server is not None:
            raise RuntimeError("add routes before the runner starts")
        self._routes.extend(routes)

    async def start(
        self,
        *,
        store: Store | None,
        ready: asyncio.Event,
        pending: Callable[[], int],
        connectors: Sequence[object],
        pricing: Pricing | None = None,
        checks: Sequence[Check] = (),
        runs_here: Callable[[object], bool] = lambda connector: True,
    ) -> None:
        """Serve the endpoint for a runner whose ``ready`` event is set while it is up.

        Args:
            store: probed for writes by ``/readyz`` (``None``: no store check).
            ready: set while the runner is up.
            pending: the mailboxes' depth.
            connectors: watched for stalls and long outages (see :mod:`.health`).
            pricing: its daily and total budgets are checked.
            checks: more readiness checks (a worker's read loop).
            runs_here: whether a connector runs in this process now (a single-consumer
                input on a standby replica does not: it is neither stalled nor down).
        """
        self._store, self._ready, self._pending = store, ready, pending
        self._connectors, self._pricing, self._checks = connectors, pricing, list(checks)
        self._runs_here = runs_here
        self._probe = StoreProbe(store) if store is not None else None
        self._started_at = time.time()
        self._since = {}
        self._running(self._started_at)  # the inputs running from the start are watched now
        server = AdminServer(self, self.settings, self._routes)
        await server.start()
        self.server = server

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            await server.stop()

    @property
    def url(self) -> str | None:
        """``http://host:port`` while serving."""
        return self.server.url if self.server is not None else None

    # -- EndpointSource ----------------------------------------------------------------
    async def exposition(self) -> bytes:
        pending = await self._journal_pending()
        if pending is not None:
            self.metrics.journal_pending.set(pending)
        self.metrics.mailbox_depth.set(self._pending())
        return self.metrics.exposition()

    async def readiness(self) -> list[dict[str, Any]]:
        reasons: list[Reason] = []
        if self._ready is None or not self._ready.is_set():
            reasons.append(reason(self.role, "not started, or shutting down"))
        now = time.time()
        reasons += crash_reasons(self.metrics, now=now)
        reasons += connector_reasons(self._running(now), self.metrics, now=now, since=self._since)
        if self._probe is not None:
            reasons += await self._probe.reasons()
        if self._store is not None:
            try:
                reasons += await budget_reasons(self._pricing, self._store, self.metrics)
            except Exception as exc:  # the store probe reports a store that fails
                _log.debug("reading the budgets failed: %r", exc)
        for check in self._checks:
            reasons += await check()
        return reasons

    async def status(self) -> dict[str, Any]:
        metrics = self.metrics
        reasons = await self.readiness()
        return {
            "role": self.role,
            "ready": not reasons,
            "reasons": reasons,
            "uptime_seconds": round(time.time() - self._started_at, 3),
            "messages": {
                "received": metrics.total("agent_runner_messages_received_total"),
                "handled": metrics.total("agent_runner_messages_handled_total"),
                "failed": metrics.total("agent_runner_messages_failed_total"),
                "refused": metrics.total("agent_runner_messages_refused_total"),
                "pending": self._pending(),
                "journal_pending": await self._journal_pending(),
            },
            "connectors": self._connector_status(),
            "budgets": await self._budgets(),
            **metrics.snapshot(),
        }

    async def _budgets(self) -> dict[str, dict[str, float]]:
        if self._store is None:
            return {}
        try:
            return await budget_status(self._pricing, self._store)
        except Exception as exc:  # the store probe reports a store that fails
            _log.debug("reading the budgets failed: %r", exc)
            return {}

    def _running(self, now: float) -> list[object]:
        """The connectors running here; each one's watch starts when it (re)starts here."""
        running = []
        for connector in self._connectors:
            name = str(getattr(connector, "name", "?"))
            if self._runs_here(connector):
                running.append(connector)
                self._since.setdefault(name, now)
            else:
                self._since.pop(name, None)
        return running

    def _connector_status(self) -> dict[str, dict[str, Any]]:
        now, metrics, found = time.time(), self.metrics, {}
        for connector in self._connectors:
            name = str(getattr(connector, "name", "?"))
            at = metrics.last_event.get(name)
            here = self._runs_here(connector)  # else a standby replica's input
            found[name] = {
                "state": metrics.states.get(name, "up") if here else "standby",
                "last_event_seconds": None if at is None else round(now - at, 3),
            }
        return found

    async def _journal_pending(self) -> int | None:
        if self._store is None:
            return None
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                return len(await self._store.journal_pending())
        except Exception as exc:  # a status read must not fail the endpoint
            _log.debug("reading the journal for the endpoint failed: %r", exc)
            return None


__all__ = ["STORE_TIMEOUT", "Check", "OperatorEndpoint", "worker_operations"]
