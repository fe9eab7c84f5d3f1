"""Coarse timeouts (agent_runner.deadlines): asyncio.timeout's behaviour on shared timers."""

from __future__ import annotations

import asyncio

import pytest

from agent_runner.deadlines import MAX_TICK, MIN_TICK, Deadlines, due_of, tick_of


@pytest.mark.parametrize(
    ("delay", "tick"),
    [(120.0, MAX_TICK), (30.0, MAX_TICK), (1.0, 0.05), (0.1, 0.005), (0.001, MIN_TICK)],
)
def test_the_tick_is_a_twentieth_of_the_delay_within_bounds(delay: float, tick: float) -> None:
    assert tick_of(delay) == pytest.approx(tick)


@pytest.mark.parametrize(
    ("now", "delay"), [(0.0, 120.0), (1000.2, 120.0), (5.01, 1.0), (77.7777, 0.1), (3.0, 0.0005)]
)
def test_a_deadline_fires_at_most_one_tick_late_and_never_early(now: float, delay: float) -> None:
    due = due_of(now, delay)
    assert now + delay <= due <= now + delay + tick_of(delay) + 1e-9


def test_deadlines_of_one_tick_share_their_due_time() -> None:
    dues = {due_of(1000.5 + n / 1000, 120.0) for n in range(100)}  # entered within 0.1 s
    assert dues == {1121.0}


async def test_a_block_past_its_deadline_raises_timeout_error() -> None:
    deadlines = Deadlines()
    with pytest.raises(TimeoutError):
        async with deadlines.timeout(0.01) as deadline:
            await asyncio.sleep(10)
    assert deadline.expired()


async def test_a_timeout_error_from_inside_is_not_the_deadline() -> None:
    deadlines = Deadlines()
    with pytest.raises(TimeoutError):
        async with deadlines.timeout(10) as deadline:
            raise TimeoutError("the agent's own")
    assert not deadline.expired()


async def test_a_block_done_in_time_is_not_cancelled_later() -> None:
    deadlines = Deadlines()
    async with deadlines.timeout(0.01) as deadline:
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)  # its tick passes: nothing happens to this task
    assert not deadline.expired()


async def test_no_limit_and_an_infinite_one_never_fire() -> None:
    deadlines = Deadlines()
    for delay in (None, float("inf")):
        async with deadlines.timeout(delay) as deadline:
            await asyncio.sleep(0.01)
        assert not deadline.expired()


async def test_a_zero_delay_expires_at_the_first_await() -> None:
    deadlines = Deadlines()
    with pytest.raises(TimeoutError):
        async with deadlines.timeout(0):
            await asyncio.sleep(0)


async def test_an_outside_cancellation_stays_a_cancellation() -> None:
    deadlines = Deadlines()
    entered = asyncio.Event()

    async def block() -> None:
        async with deadlines.timeout(10):
            entered.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(block())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_outer_asyncio_timeout_wins_over_a_later_coarse_one() -> None:
    deadlines = Deadlines()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01) as outer:
            async with deadlines.timeout(10) as inner:
                await asyncio.sleep(10)
    assert outer.expired() and not inner.expired()


async def test_many_blocks_each_time_out_and_the_task_goes_on() -> None:
    deadlines = Deadlines()

    async def one(n: int) -> str:
        try:
            async with deadlines.timeout(0.01 if n % 2 else 10):
                await asyncio.sleep(0.5 if n % 2 else 0)
        except TimeoutError:
            return "timeout"
        await asyncio.sleep(0)  # the task is not left cancelled
        return "ok"

    results = await asyncio.gather(*(one(n) for n in range(50)))
    assert results == ["ok", "timeout"] * 25


async def test_a_timeout_is_entered_once() -> None:
    deadlines = Deadlines()
    block = deadlines.timeout(1)
    async with block:
        pass
    with pytest.raises(RuntimeError):
        async with block:
            pass
