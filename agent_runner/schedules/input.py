"""FollowUpInput: the input that fires due follow-ups into their conversations.

Give every runner one (``AgentRuntime([..., FollowUpInput(followups)], ...)``): each looks at
the store every ``poll`` seconds, and each due slot fires in exactly one of them (see
:mod:`agent_runner.schedules.book`). The fired message continues the conversation that
scheduled it: its source, conversation and platform details are that message's, its id is
``followup-<id>-<slot ms>``, its author ``agent-runner:schedule``, its text the follow-up's,
and ``metadata["followup"]`` says which follow-up and slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket

from agent_runner.connector import BaseConnector, Sink
from agent_runner.errors import ConnectorError, InvalidMessageError, StoreError
from agent_runner.message import Author, Message, conversation_message
from agent_runner.schedules.book import FollowUp, FollowUps
from agent_runner.schedules.slots import cron_slots, crontab_trigger, next_cron_slot, to_fire
from agent_runner.store import Store

_log = logging.getLogger("agent_runner.schedules")

AUTHOR = Author(id="agent-runner:schedule", name="schedule")
"""The author of fired follow-ups."""

_LEASE_MIN = 60.0
"""Shortest hold of a slot's lease, seconds (covers a process that read the follow-up before
another moved it on)."""


class FollowUpInput(BaseConnector):
    """Fires due follow-ups (see the module docstring).

    Args:
        followups: the follow-ups' settings and clock.
        poll: seconds between looks at the store.
        name: the input's name.
    """

    name = "schedule"

    def __init__(self, followups: FollowUps, *, poll: float = 1.0, name: str = "schedule") -> None:
        super().__init__(name=name)
        if poll <= 0:
            raise ValueError("poll must be > 0")
        self.followups = followups
        self.poll = poll
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._store: Store | None = None
        self.fired = 0
        """Slots this process fired."""

    def bind_store(self, store: Store) -> None:
        self._store = store

    async def run(self, sink: Sink) -> None:
        store = self._store
        if store is None:
            raise ConnectorError("FollowUpInput needs the runner's store (bind_store)")
        while not self._stopping.is_set():
            try:
                await self.look(store, sink)
            except StoreError as exc:
                _log.warning("follow-ups not checked (%s); trying again", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll)

    async def look(self, store: Store, sink: Sink) -> int:
        """Fire every due slot of every follow-up; return how many this process fired."""
        fired = 0
        now = self.followups.clock()
        for followup in await self.followups.scheduled(store):
            if followup.next_at is not None and followup.next_at <= now:
                fired += await self._due(store, sink, followup, now)
        self.fired += fired
        return fired

    async def _due(self, store: Store, sink: Sink, followup: FollowUp, now: float) -> int:
        assert followup.next_at is not None
        if followup.cron is not None:
            trigger = crontab_trigger(followup.cron, followup.timezone)
            slots = [followup.next_at, *cron_slots(trigger, followup.next_at, now)]
            following = next_cron_slot(trigger, now)
        else:
            slots, following = [followup.next_at], None
        fired = 0
        for slot in to_fire(slots, now=now, window=followup.window, missed=followup.missed):
            deadline = max(_LEASE_MIN, followup.window + (now - slot))
            name = f"schedule:{followup.id}:{int(slot * 1000)}"
            if await store.lease_acquire(name, self.holder, ttl=deadline) is None:
                continue  # another process fires this slot (the lease is never released)
            fired += await self._fire(sink, followup, slot)
        if following is None:
            await self.followups.finish(store, followup.id)
        else:
            await self.followups.save(store, followup.model_copy(update={"next_at": following}))
        return fired

    async def _fire(self, sink: Sink, followup: FollowUp, slot: float) -> int:
        original = Message.model_validate(followup.message)
        message = conversation_message(
            original,
            id=f"followup-{followup.id}-{int(slot * 1000)}",
            text=followup.text,
            author=AUTHOR,
            metadata={"followup": {"id": followup.id, "slot": slot}},
        )
        try:
            accepted = await sink(message)
        except (InvalidMessageError, ConnectorError, StoreError) as exc:
            _log.warning("follow-up %s not accepted: %s", message.id, exc)
            return 0
        if accepted.duplicate:
            return 0
        _log.info("follow-up %s fired into %s", message.id, followup.conversation_key)
        return 1


__all__ = ["AUTHOR", "FollowUpInput"]
