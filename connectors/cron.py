"""Cron input: messages on a schedule (cron expressions or intervals, in any time zone).

Each firing of a :class:`CronJob` pushes a :class:`~agent_runner.message.Message` with the
job's text into its conversation, e.g. "write today's post" routed to X::

    cron = CronInput([CronJob(name="daily-post", text="Write today's post", cron="0 9 * * *",
                              timezone="Europe/Paris")])
    runtime = AgentRuntime([cron], [x], agent, routes={"cron": ["x"]})

Scheduling is APScheduler 3's ``AsyncIOScheduler`` with ``coalesce=True`` (missed firings
collapse into one), ``misfire_grace_time`` (a firing later than this is skipped) and
``max_instances=1``. A firing is skipped, with a log line, while the agent is still busy with
the job's previous message. The message id is ``f"{job}:{scheduled time, UTC ISO}"``, so a
restart within the same slot never fires twice (the journal drops the duplicate). With
several runner processes on one store, each slot fires in one of them only: the one that
takes the store lease ``cron:<job>:<slot>`` (held until the slot can no longer fire, never
released).

Cron expressions are standard crontab (``minute hour day month weekday``, weekday 0 or 7 =
Sunday). :func:`next_fire_times` computes a schedule from a given time without waiting.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from agent_runner.connector import BaseConnector, Sink
from agent_runner.errors import ConfigurationError, ConnectorError, InvalidMessageError, StoreError
from agent_runner.message import Author, Message
from agent_runner.schedules import crontab_trigger, crontab_weekdays
from agent_runner.store import Store

logger = logging.getLogger("connectors.cron")

_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


@dataclass(frozen=True, kw_only=True, slots=True)
class CronJob:
    """One schedule: a message ``text`` sent to ``conversation_id`` at each firing.

    Args:
        name: unique job name (letters, digits, ``_.-``); the message ids start with it.
        text: the message text the agent receives.
        conversation_id: the conversation the messages belong to (default: ``name``).
        cron: a crontab expression, ``"*/5 * * * *"`` (exactly one of cron and interval).
        interval: a fixed period, ``timedelta(hours=1)``.
        timezone: the IANA time zone the expression is read in (``"UTC"``).
    """

    name: str
    text: str
    conversation_id: str | None = None
    cron: str | None = None
    interval: timedelta | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ConfigurationError(f"cron job name {self.name!r}: use 1-128 of [A-Za-z0-9_.-]")
        if not self.text.strip():
            raise ConfigurationError(f"cron job {self.name!r}: text is empty")
        if (self.cron is None) == (self.interval is None):
            raise ConfigurationError(f"cron job {self.name!r}: give exactly one of cron, interval")
        if self.interval is not None and self.interval <= timedelta(0):
            raise ConfigurationError(f"cron job {self.name!r}: interval must be positive")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(
                f"cron job {self.name!r}: unknown time zone {self.timezone!r}"
            ) from None
        try:
            self.trigger()
        except ValueError as exc:
            raise ConfigurationError(f"cron job {self.name!r}: {exc}") from None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def trigger(self, *, start: datetime | None = None) -> CronTrigger | IntervalTrigger:
        """The APScheduler trigger (an interval counts from ``start``, default now)."""
        if self.interval is not None:
            return IntervalTrigger(
                seconds=self.interval.total_seconds(), start_date=start, timezone=self.tz
            )
        assert self.cron is not None
        return crontab_trigger(self.cron, self.timezone)

    def describe(self) -> str:
        when = f"cron {self.cron!r}" if self.cron else f"every {self.interval}"
        return f"{self.name}: {when} ({self.timezone}) -> {self.text[:40]!r}"


def next_fire_times(job: CronJob, after: datetime, count: int = 1) -> list[datetime]:
    """The next ``count`` firings of ``job`` strictly after ``after`` (pure: no clock).

    An interval job counts from ``after``.

    Example:
        >>> job = CronJob(name="j", text="t", cron="30 9 * * 1-5")
        >>> next_fire_times(job, datetime(2026, 1, 2, 10, tzinfo=UTC))[0].isoformat()
        '2026-01-05T09:30:00+00:00'
    """
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    start = after.astimezone(UTC) + job.interval if job.interval else None
    trigger = job.trigger(start=start)
    times: list[datetime] = []
    previous: datetime | None = None
    now = after.astimezone(UTC) + timedelta(microseconds=1)
    while len(times) < count:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        times.append(fire)
        # In UTC: wall-clock arithmetic on an aware time would lose a DST fold.
        previous, now = fire, fire.astimezone(UTC) + timedelta(microseconds=1)
    return times


def firing_id(job: CronJob, at: datetime) -> str:
    """The message id of ``job``'s firing scheduled at ``at``: ``"{name}:{UTC ISO time}"``."""
    return f"{job.name}:{at.astimezone(UTC).isoformat()}"


class CronInput(BaseConnector):
    """Pushes a message for every firing of its jobs.

    Args:
        jobs: the schedules (names must be unique).
        name: the input's name; route its replies with ``routes={"cron": [...]}``.
        misfire_grace_time: seconds a firing may be late (event loop busy, process paused)
            and still run; later ones are skipped (coalesced into one when several).
        author_id: the author of the messages.

    Example:
        >>> cron = CronInput([CronJob(name="heartbeat", text="ping", interval=timedelta(hours=1))])
    """

    name = "cron"

    def __init__(
        self,
        jobs: Sequence[CronJob],
        *,
        name: str = "cron",
        misfire_grace_time: int = 60,
        author_id: str = "cron",
    ) -> None:
        super().__init__(name=name)
        names = [job.name for job in jobs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigurationError(f"cron job names must be unique: {duplicates}")
        self.jobs: dict[str, CronJob] = {job.name: job for job in jobs}
        if misfire_grace_time < 1:
            raise ConfigurationError("misfire_grace_time must be at least 1 second")
        self._grace = int(misfire_grace_time)
        self._author = author_id
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._store: Store | None = None
        self._sink: Sink | None = None
        self._slots: dict[str, datetime] = {}
        self._last: dict[str, str] = {}
        self._done: set[str] = set()
        self.scheduler: AsyncIOScheduler | None = None

    def bind_store(self, store: Store) -> None:
        self._store = store

    def describe(self) -> str:
        return "cron: " + "; ".join(job.describe() for job in self.jobs.values())

    async def run(self, sink: Sink) -> None:
        self._sink = sink
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED)
        for job in self.jobs.values():
            scheduler.add_job(
                self._fire_scheduled,
                trigger=job.trigger(),
                args=(job.name,),
                id=job.name,
                name=job.name,
                misfire_grace_time=self._grace,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )
        self.scheduler = scheduler
        scheduler.start()
        self.report()
        try:
            await self._stopping.wait()
        finally:
            scheduler.shutdown(wait=False)
            self.scheduler = None
            self._sink = None

    def _on_submitted(self, event: Any) -> None:
        # Runs before the job's coroutine: remember the slot it was scheduled for.
        if isinstance(event, JobSubmissionEvent) and event.scheduled_run_times:
            self._slots[event.job_id] = event.scheduled_run_times[-1]

    async def _fire_scheduled(self, name: str) -> None:
        at = self._slots.pop(name, None) or datetime.now(UTC)
        await self.fire(name, at=at)

    async def fire(self, name: str, *, at: datetime | None = None) -> bool:
        """Fire job ``name`` for the slot ``at`` (default now); True when a message was pushed.

        The scheduler calls this; call it yourself to run a job at once.
        """
        job = self.jobs[name]
        sink = self._sink
        if sink is None:
            raise ConnectorError(f"cron input {self.name!r} is not running")
        self.report()  # the schedule fired: "seconds since the last event" is since this
        when = at or datetime.now(UTC)
        slot = firing_id(job, when)
        store = self._store
        ttl = self._grace + 60.0  # past the slot's last chance to fire anywhere
        if (
            store is not None
            and await store.lease_acquire(f"cron:{slot}", self._holder, ttl) is None
        ):
            logger.info("cron job %r at %s fires in another process", name, when.isoformat())
            return False
        if await self._busy(job):
            logger.info(
                "cron job %r skipped at %s: the previous firing is still being handled",
                name,
                when.isoformat(),
            )
            return False
        message = Message(
            id=slot,
            conversation_id=job.conversation_id or job.name,
            source=self.name,
            author=Author(id=self._author),
            text=job.text,
            metadata={"cron_job": job.name, "scheduled_at": when.astimezone(UTC).isoformat()},
        )
        try:
            accepted = await sink(message)
        except (InvalidMessageError, ConnectorError, StoreError) as exc:
            logger.warning("cron job %r firing %s not accepted: %s", name, message.id, exc)
            return False
        self._last[name] = message.key
        if accepted.duplicate:
            logger.info("cron job %r already fired for %s", name, when.isoformat())
            return False
        logger.info("cron job %r fired (%s)", name, message.id)
        return True

    async def complete(self, request: Message) -> None:
        """The runner's signal that a message is handled: the job is free again."""
        self._done.add(request.key)
        if len(self._done) > 4 * max(1, len(self.jobs)):
            self._done = {k for k in self._done if k in self._last.values()}

    async def _busy(self, job: CronJob) -> bool:
        previous = self._last.get(job.name)
        if previous is None or previous in self._done or self._store is None:
            return False
        try:
            pending = await self._store.journal_pending()
        except StoreError as exc:
            logger.warning("cron cannot read the journal (%s); firing anyway", exc)
            return False
        return any(entry.key == previous for entry in pending)


__all__ = ["CronInput", "CronJob", "crontab_weekdays", "firing_id", "next_fire_times"]
