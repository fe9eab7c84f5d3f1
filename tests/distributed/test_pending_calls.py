"""PendingCalls: every call ends (reply, timeout or close), with one timer for all of them."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from agent_runner.distributed._rpc import Call, PendingCalls
from agent_runner.errors import RPCTimeoutError, RuntimeStoppedError


async def test_calls_time_out_oldest_first_and_answered_ones_are_left_alone() -> None:
    abandoned: list[str] = []
    pending = PendingCalls("w", lambda call: abandoned.append(call.recipient), timeout=0.05)
    first = pending.add("r1", "a/1", "s")
    answered = pending.add("r2", "a/2", "s")
    pending.add("r3", "a/3", "s")
    third = pending._calls["r3"]
    popped = pending.pop("r2")
    assert popped is answered
    answered.future.set_result("ok")
    with pytest.raises(RPCTimeoutError, match=r"a/1 within 0\.05s \(rid r1\)"):
        await first.future
    with pytest.raises(RPCTimeoutError, match="a/3"):
        await third.future
    assert answered.future.result() == "ok"
    assert abandoned == ["a/1", "a/3"]
    assert len(pending) == 0
    # The timer is set again for a call made after every earlier one ended.
    late = pending.add("r4", "a/4", "s")
    with pytest.raises(RPCTimeoutError, match="a/4"):
        await late.future
    assert abandoned == ["a/1", "a/3", "a/4"]


async def test_a_cancelled_call_is_abandoned_once() -> None:
    abandoned: list[Call] = []
    pending = PendingCalls("w", abandoned.append, timeout=0.05)
    call = pending.add("r1", "a/1", "s")
    call.future.cancel()
    await asyncio.sleep(0)  # the done callback runs
    assert [c.rid for c in abandoned] == ["r1"]
    await asyncio.sleep(0.1)  # the timer finds nothing left to expire
    assert [c.rid for c in abandoned] == ["r1"]


async def test_without_timeout_calls_wait_until_closed() -> None:
    pending = PendingCalls("w", lambda call: None, timeout=None)
    call = pending.add("r1", "a/1", "s")
    assert pending._timer is None
    pending.fail_all("the runtime closed")
    with pytest.raises(RuntimeStoppedError, match="a/1"):
        await call.future


async def test_closing_stops_the_timer() -> None:
    pending = PendingCalls("w", lambda call: None, timeout=30)
    call = pending.add("r1", "a/1", "s")
    assert pending._timer is not None
    pending.fail_all("closed")
    assert pending._timer is None
    with pytest.raises(RuntimeStoppedError):
        await call.future


def test_ids_are_unique_and_message_ids_are_uuid4() -> None:
    pending = PendingCalls("w1", lambda call: None, timeout=None)
    ids = [pending.new_message_id() for _ in range(1500)]  # more than one draw of entropy
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    rids = [pending.new_rid() for _ in range(1500)]
    assert len(set(rids)) == len(rids)
    assert all(r.startswith("w1:") for r in rids)
