"""Follow-ups in one process: the agent schedules, lists and cancels them with its tools; the
FollowUpInput delivers them into the conversation; a restart spanning a due time follows the
missed-slot policy (an injected clock, the real stores)."""

from __future__ import annotations

from typing import Any

import pytest

from agent_runner import Accepted, Message, Store
from agent_runner.llm import LLMAgent, ModelRequest, ScriptAnswer, ScriptedModelClient, ToolCall
from agent_runner.schedules import FollowUpInput, FollowUps, Missed, schedule_tools, to_fire
from connectors.inmemory import InMemoryConnector
from tests.runner.support import make, running


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def planner(request: ModelRequest) -> ScriptAnswer:
    """Schedules on "remind", lists on "list", cancels on "cancel <id>", reports tool results,
    and answers follow-ups (messages from the scheduler) with "following up: <text>"."""
    last = request.messages[-1]
    text = last.content or ""
    if last.role == "tool":
        return f"ok: {text}"
    if text.startswith("remind"):
        return ToolCall.of("schedule", {"text": "check the oven", "delay_seconds": 0.2})
    if text.startswith("hourly"):
        return ToolCall.of("schedule", {"text": "stretch", "cron": "0 * * * *"})
    if text == "list":
        return ToolCall.of("list_schedules", {})
    if text.startswith("cancel "):
        return ToolCall.of("cancel_schedule", {"schedule_id": text.split()[1]})
    return f"following up: {text}"


async def test_the_agent_schedules_a_follow_up_that_comes_back_to_the_conversation(
    store: Store,
) -> None:
    followups = FollowUps()
    agent = LLMAgent(
        ScriptedModelClient(default=planner), system_prompt="Plan.", tools=schedule_tools(followups)
    )
    chat = InMemoryConnector()
    ticker = FollowUpInput(followups, poll=0.05)
    async with running(make([chat, ticker], [chat], agent, store=store)):
        await chat.push("remind me about the oven", conversation_id="kitchen")
        await chat.push("hourly stretch please", conversation_id="kitchen")
        sent = await chat.wait_for_replies(3, timeout=30)
        texts = [reply.text for _, reply in sent]
        assert texts[0].startswith("ok: scheduled ") and "check the oven" in texts[0]
        assert "following up: check the oven" in texts
        followup = next(m for m, r in sent if r.text == "following up: check the oven")
        assert followup.conversation_id == "kitchen" and followup.source == "memory"
        assert followup.author.id == "agent-runner:schedule"
        await chat.push("list", conversation_id="kitchen")
        listing = (await chat.wait_for_replies(4))[3][1].text
        assert "stretch" in listing and "oven" not in listing  # the one-shot is done
        hourly = listing.split()[1].rstrip(":")
        await chat.push(f"cancel {hourly}", conversation_id="kitchen")
        assert (await chat.wait_for_replies(5))[4][1].text == f"ok: cancelled {hourly}"
        assert await followups.scheduled(store) == []
    assert ticker.fired == 1


class Sink:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, data: Any) -> Accepted:
        message = Message.parse(data)
        duplicate = any(m.key == message.key for m in self.messages)
        if not duplicate:
            self.messages.append(message)
        return Accepted(message.key, duplicate=duplicate)


ASKED = Message.model_validate(
    {"id": "m1", "conversation_id": "c1", "source": "chat", "author": {"id": "ada"}, "text": "x"}
)


@pytest.mark.parametrize(("missed", "fired"), [("skip", 0), ("once", 1), ("all", 1)])
async def test_a_restart_spanning_a_one_shot_follows_the_policy(
    store: Store, missed: Missed, fired: int
) -> None:
    clock = Clock()
    followups = FollowUps(window=30, clock=clock, missed=missed)
    await store.open()
    try:
        await followups.add(store, ASKED, "check", delay=10)
        sink = Sink()
        clock.now += 5  # up, not yet due
        assert await FollowUpInput(followups).look(store, sink) == 0
        clock.now += 600  # down across the due time, then a new process looks
        assert await FollowUpInput(followups).look(store, sink) == fired
        clock.now += 600
        assert await FollowUpInput(followups).look(store, sink) == 0
        assert await followups.scheduled(store) == []
    finally:
        await store.close()
    assert [m.text for m in sink.messages] == ["check"] * fired


@pytest.mark.parametrize(("missed", "fired"), [("skip", 1), ("once", 2), ("all", 7)])
async def test_a_restart_spanning_cron_slots_follows_the_policy(
    store: Store, missed: Missed, fired: int
) -> None:
    clock = Clock(1_700_000_000.0)  # 22:13:20 UTC
    followups = FollowUps(window=30, clock=clock, missed=missed)
    await store.open()
    try:
        await followups.add(store, ASKED, "tick", cron="*/10 * * * *")
        sink = Sink()
        clock.now = 1_700_000_400.0 + 3600 + 10  # down from 22:20 to 23:20:10: 7 slots
        # 22:20, 22:30 ... 23:20: the last is on time, the six before are missed
        found = await FollowUpInput(followups).look(store, sink)
        [scheduled] = await followups.scheduled(store)
        assert scheduled.next_at == 1_700_000_400.0 + 3600 + 600
    finally:
        await store.close()
    assert found == fired == len({m.id for m in sink.messages})


def test_missed_slot_policies_are_pure() -> None:
    slots = [0.0, 10.0, 100.0]
    assert to_fire(slots, now=101.0, window=5.0, missed="skip") == [100.0]
    assert to_fire(slots, now=101.0, window=5.0, missed="once") == [10.0, 100.0]
    assert to_fire(slots, now=101.0, window=5.0, missed="all") == slots
    assert to_fire([], now=1.0, window=5.0, missed="all") == []


async def test_bad_schedules_are_refused_with_a_reason(store: Store) -> None:
    followups = FollowUps()
    await store.open()
    try:
        with pytest.raises(ValueError, match="exactly one"):
            await followups.add(store, ASKED, "x", delay=1, cron="* * * * *")
        with pytest.raises(ValueError, match="5 fields"):
            await followups.add(store, ASKED, "x", cron="* * *")
        assert await followups.scheduled(store) == []
        assert not await followups.cancel(store, "nope")
    finally:
        await store.close()


def test_poll_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FollowUpInput(FollowUps(), poll=0)
