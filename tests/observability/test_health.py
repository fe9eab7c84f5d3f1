"""/readyz tells the truth: red with a JSON reason when an input keeps crashing, stalls or
stays disconnected, when the store cannot write, when the budget is used up; green again on
recovery. Each against a real runner and its real endpoint."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent_runner.connector import BaseConnector, Sink
from agent_runner.pricing import Budget, ModelPrice, Pricing
from agent_runner.runner.leadership import InputLeases
from agent_runner.store import InMemoryStore, SQLiteStore
from connectors.inmemory import InMemoryConnector

from .support import get, running


async def readyz(url: str) -> tuple[int, list[dict[str, Any]]]:
    status, body = await get(f"{url}/readyz")
    return status, json.loads(body)["reasons"]


async def until(
    url: str, wanted: Callable[[int, list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """Poll /readyz until ``wanted(status, reasons)`` (at most 15 s); the reasons then."""
    async with asyncio.timeout(15):
        while True:
            status, reasons = await readyz(url)
            if wanted(status, reasons):
                return reasons
            await asyncio.sleep(0.05)


def red(check: str) -> Callable[[int, list[dict[str, Any]]], bool]:
    return lambda status, reasons: status == 503 and any(r["check"] == check for r in reasons)


def green(status: int, reasons: list[dict[str, Any]]) -> bool:
    return status == 200 and not reasons


class Flaky(BaseConnector):
    """An input that crashes while ``crashing`` is set, else reports progress and waits."""

    name = "flaky"

    def __init__(self) -> None:
        super().__init__()
        self.crashing = True

    async def run(self, sink: Sink) -> None:
        if self.crashing:
            raise ConnectionError("the platform is down")
        self.report()
        await self._stopping.wait()


class Poller(BaseConnector):
    """A poll loop reporting progress every ``interval`` while ``alive`` (then it hangs)."""

    name = "poller"
    progress_interval = 0.1

    def __init__(self) -> None:
        super().__init__()
        self.alive = True

    async def run(self, sink: Sink) -> None:
        while True:
            if self.alive:
                self.report()
            await asyncio.sleep(self.progress_interval)


async def test_an_input_in_a_crash_loop_is_red_until_it_recovers() -> None:
    flaky = Flaky()
    chat = InMemoryConnector()
    async with running(
        chat=chat, extra_inputs=[flaky], retry_base_delay=0.01, retry_max_delay=0.05
    ) as (
        _,
        _,
        url,
    ):
        reasons = await until(url, red("input"))
        assert "flaky keeps crashing" in reasons[0]["detail"]
        flaky.crashing = False
        await until(url, green)


async def test_a_stalled_poll_loop_is_red_until_it_makes_progress_again() -> None:
    poller = Poller()
    async with running(extra_inputs=[poller]) as (_, _, url):
        await until(url, green)
        poller.alive = False
        reasons = await until(url, red("stall"))
        assert reasons[0]["connector"] == "poller"
        poller.alive = True
        await until(url, green)


class LedPoller(Poller):
    """A poll loop one replica at a time may run (under its store lease)."""

    name = "led"
    single_consumer = True


async def test_a_standby_replicas_poll_loop_is_watched_only_once_it_runs_here() -> None:
    store, poller = InMemoryStore(), LedPoller()
    assert await store.lease_acquire(poller.lease_name, "another replica", 60.0) is not None
    leases = InputLeases(ttl=2.0, retry=0.05)
    async with running(extra_inputs=[poller], store=store, input_leases=leases) as (_, _, url):
        await asyncio.sleep(5 * poller.progress_interval)  # standing by, never reporting
        await until(url, green)
        _, body = await get(f"{url}/api/status")
        assert json.loads(body)["connectors"]["led"]["state"] == "standby"
        await store.lease_release(poller.lease_name, "another replica")
        async with asyncio.timeout(15):  # this replica takes the lease and runs it
            while True:
                _, body = await get(f"{url}/api/status")
                if json.loads(body)["connectors"]["led"]["state"] != "standby":
                    break
                await asyncio.sleep(0.05)
        await until(url, green)
        poller.alive = False  # now it runs here: a stall is a stall
        reasons = await until(url, red("stall"))
        assert reasons[0]["connector"] == "led"
        poller.alive = True
        await until(url, green)


async def test_a_connector_down_longer_than_its_grace_is_red() -> None:
    chat = InMemoryConnector()
    chat.down_grace = 0.2
    async with running(chat=chat) as (_, _, url):
        chat.report("reconnecting")
        reasons = await until(url, red("connector"))
        assert "memory has been reconnecting" in reasons[0]["detail"]
        _, body = await get(f"{url}/api/status")
        assert json.loads(body)["connectors"]["memory"]["state"] == "reconnecting"
        chat.report("up")
        await until(url, green)


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr")
async def test_a_read_only_store_is_red_until_it_can_write_again(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = SQLiteStore(path)
    files = [path, Path(f"{path}-wal")]  # not -shm: it is mapped (writing would be SIGBUS)
    async with running(store=store) as (_, chat, url):
        await until(url, green)
        frozen = [f for f in files if f.exists()]
        await asyncio.to_thread(subprocess.run, ["chattr", "+i", *map(str, frozen)], check=True)
        try:
            reasons = await until(url, red("store"))
            assert "cannot write" in reasons[0]["detail"]
        finally:
            await asyncio.to_thread(subprocess.run, ["chattr", "-i", *map(str, frozen)], check=True)
        await until(url, green)
        await chat.push("still answering")
        await chat.wait_for_replies(1)


async def test_a_used_up_budget_is_red_until_there_is_budget_again() -> None:
    async def spender(message: Any, context: Any) -> str:
        await context.cost.record("m", input_tokens=1000, output_tokens=0)
        return "spent"

    pricing = Pricing(
        prices={"m": ModelPrice(input_per_million=1000.0, output_per_million=0.0)},
        budget=Budget(per_day=1.0),
    )
    async with running(spender, pricing=pricing) as (_, chat, url):
        await until(url, green)
        await chat.push("spend it all")
        await chat.wait_for_replies(1)
        reasons = await until(url, red("budget"))
        assert "daily budget of 1 is used up" in reasons[0]["detail"]
        _, metrics = await get(f"{url}/metrics")
        assert 'agent_runner_budget_remaining{scope="day"} 0.0' in metrics
        pricing.budget = Budget(per_day=100.0)
        await until(url, green)
