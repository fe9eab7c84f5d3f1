"""Follow-ups kept in the store: added, listed, cancelled, and fired once per slot.

A :class:`FollowUp` is a message to deliver later to a conversation: once (at a time, or after
a delay) or by cron. Records live in the store's key-value state (``followup:<id>``) with an
index of ids (``followups``), changed only under the store lease ``followups:index``, so
every process on the store lists and fires the same follow-ups, also after a restart.

Firing happens in :class:`~agent_runner.schedules.FollowUpInput` (an input of every runner):
a slot fires only for the process that gets the lease ``schedule:<id>:<slot>``, taken for
as long as that slot could still fire and never released, and the message's id is
``followup-<id>-<slot>`` (a second acceptance would be a journal duplicate), so it fires
exactly once across processes sharing the store (SQLite on one host, Redis across hosts).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from agent_runner.backoff import RetryPolicy
from agent_runner.errors import ConfigurationError, StoreError
from agent_runner.message import Message
from agent_runner.schedules.slots import Missed, crontab_trigger, next_cron_slot
from agent_runner.store import Store

INDEX = "followups"
_INDEX_LEASE = "followups:index"
_INDEX_RETRY = RetryPolicy(retries=40, base=0.01, cap=0.25)


class FollowUp(BaseModel):
    """One scheduled message (see the module docstring)."""

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    conversation_key: str
    message: dict[str, Any]
    """The message whose turn scheduled it: the conversation and platform details the
    follow-up is delivered with."""
    at: float | None = None
    """One-shot: the Unix time to fire."""
    cron: str | None = None
    timezone: str = "UTC"
    missed: Missed = "once"
    window: float = 60.0
    """Seconds a slot may be late and still count as on time."""
    next_at: float | None
    """The first slot not yet looked at; None when nothing is left to fire."""
    created_at: float

    def describe(self) -> str:
        when = f"cron {self.cron!r} ({self.timezone})" if self.cron else f"at {self.at:.0f}"
        return f"{self.id}: {when}: {self.text[:60]!r}"


class FollowUps:
    """Add, list and cancel follow-ups in a store.

    Args:
        missed: the default policy for slots missed while down (``"skip"``, ``"once"``,
            ``"all"``).
        window: seconds a slot may be late and still be on time.
        clock: Unix time (tests inject one).
    """

    def __init__(
        self,
        *,
        missed: Missed = "once",
        window: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if window <= 0:
            raise ConfigurationError(f"window must be > 0, not {window}")
        self.missed: Missed = missed
        self.window = window
        self.clock = clock

    async def add(
        self,
        store: Store,
        message: Message,
        text: str,
        *,
        at: float | None = None,
        delay: float | None = None,
        cron: str | None = None,
        timezone: str = "UTC",
        missed: Missed | None = None,
    ) -> FollowUp:
        """Schedule ``text`` for ``message``'s conversation: at a Unix time, after ``delay``
        seconds, or by ``cron`` (exactly one).

        Raises:
            ValueError: not exactly one of at, delay, cron; a bad cron expression or zone;
                empty text.
        """
        if sum(x is not None for x in (at, delay, cron)) != 1:
            raise ValueError("give exactly one of at, delay, cron")
        if not text.strip():
            raise ValueError("the follow-up's text is empty")
        now = self.clock()
        if delay is not None:
            if delay < 0:
                raise ValueError("delay must be >= 0")
            at = now + delay
        if cron is not None:
            next_at = next_cron_slot(crontab_trigger(cron, timezone), now)
        else:
            next_at = at
        followup = FollowUp(
            id=secrets.token_hex(5),
            text=text,
            conversation_key=message.conversation_key,
            message=message.model_dump(mode="json"),
            at=at,
            cron=cron,
            timezone=timezone,
            missed=missed or self.missed,
            window=self.window,
            next_at=next_at,
            created_at=now,
        )
        await self.save(store, followup)
        await self._change_index(store, add=followup.id)
        return followup

    async def get(self, store: Store, followup_id: str) -> FollowUp | None:
        raw = await store.state_get(f"followup:{followup_id}")
        return None if raw is None else FollowUp.model_validate_json(raw)

    @staticmethod
    async def save(store: Store, followup: FollowUp) -> None:
        await store.state_set(f"followup:{followup.id}", followup.model_dump_json())

    async def scheduled(self, store: Store, conversation_key: str | None = None) -> list[FollowUp]:
        """Every follow-up still to fire (of one conversation, when given), soonest first."""
        found = []
        for followup_id in await self._index(store):
            followup = await self.get(store, followup_id)
            if followup is not None and followup.next_at is not None:
                if conversation_key is None or followup.conversation_key == conversation_key:
                    found.append(followup)
        return sorted(found, key=lambda f: f.next_at or 0.0)

    async def cancel(
        self, store: Store, followup_id: str, conversation_key: str | None = None
    ) -> bool:
        """Cancel a follow-up (only of ``conversation_key``, when given); False when unknown."""
        followup = await self.get(store, followup_id)
        if followup is None or (conversation_key and followup.conversation_key != conversation_key):
            return False
        await store.state_delete(f"followup:{followup_id}")
        await self._change_index(store, remove=followup_id)
        return True

    async def finish(self, store: Store, followup_id: str) -> None:
        """Forget a follow-up with nothing left to fire."""
        await store.state_delete(f"followup:{followup_id}")
        await self._change_index(store, remove=followup_id)

    @staticmethod
    async def _index(store: Store) -> list[str]:
        raw = await store.state_get(INDEX)
        return list(json.loads(raw)) if raw else []

    async def _change_index(
        self, store: Store, *, add: str | None = None, remove: str | None = None
    ) -> None:
        """Read-modify-write the index under its lease (other processes change it too)."""
        holder = secrets.token_hex(8)
        attempt = 0
        while await store.lease_acquire(_INDEX_LEASE, holder, ttl=10.0) is None:
            attempt += 1
            wait = _INDEX_RETRY.wait(attempt)
            if wait is None:
                raise StoreError("the follow-up index stayed locked by another process")
            await asyncio.sleep(wait)
        try:
            ids = [i for i in await self._index(store) if i != remove]
            if add is not None and add not in ids:
                ids.append(add)
            await store.state_set(INDEX, json.dumps(ids))
        finally:
            await store.lease_release(_INDEX_LEASE, holder)


__all__ = ["INDEX", "FollowUp", "FollowUps"]
