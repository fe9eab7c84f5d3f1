"""Cron input: schedules as pure arithmetic, and the wiring with real firings through the runner."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent_runner import AgentContext, Message
from agent_runner.errors import ConfigurationError
from agent_runner.store import SQLiteStore, Store
from connectors.cron import CronInput, CronJob, crontab_weekdays, firing_id, next_fire_times
from connectors.inmemory import InMemoryConnector
from tests.connectors._web_fixtures import Recorder, running


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def iso_utc(times: list[datetime]) -> list[str]:
    return [t.astimezone(UTC).strftime("%Y-%m-%d %H:%M") for t in times]


@pytest.mark.parametrize(
    ("cron", "tz", "after", "expected"),
    [
        ("*/15 * * * *", "UTC", utc(2026, 1, 1, 10, 7), ["2026-01-01 10:15", "2026-01-01 10:30"]),
        ("0 9 * * *", "UTC", utc(2026, 1, 1, 9, 0), ["2026-01-02 09:00", "2026-01-03 09:00"]),
        # weekdays are crontab's: 1-5 = Monday..Friday; 2026-01-02 is a Friday
        ("30 9 * * 1-5", "UTC", utc(2026, 1, 2, 10), ["2026-01-05 09:30", "2026-01-06 09:30"]),
        ("0 12 * * 0", "UTC", utc(2026, 1, 1), ["2026-01-04 12:00", "2026-01-11 12:00"]),  # Sundays
        ("0 0 1 */6 *", "UTC", utc(2026, 2, 1), ["2026-07-01 00:00", "2027-01-01 00:00"]),
        # a time zone: 09:00 in Paris is 08:00 UTC in winter
        ("0 9 * * *", "Europe/Paris", utc(2026, 1, 1), ["2026-01-01 08:00", "2026-01-02 08:00"]),
        # New York springs forward on 2026-03-08: 09:00 local moves from 14:00 to 13:00 UTC
        (
            "0 9 * * *",
            "America/New_York",
            utc(2026, 3, 6, 15),
            ["2026-03-07 14:00", "2026-03-08 13:00", "2026-03-09 13:00"],
        ),
        # Berlin springs forward at 02:00 on 2026-03-29: the hourly job skips the missing hour
        (
            "0 * * * *",
            "Europe/Berlin",
            utc(2026, 3, 28, 23, 30),
            ["2026-03-29 00:00", "2026-03-29 01:00", "2026-03-29 02:00"],
        ),
    ],
)
def test_cron_schedules(cron: str, tz: str, after: datetime, expected: list[str]) -> None:
    job = CronJob(name="j", text="t", cron=cron, timezone=tz)
    assert iso_utc(next_fire_times(job, after, len(expected))) == expected


def test_berlin_hourly_has_no_local_02_on_the_spring_forward_day() -> None:
    job = CronJob(name="j", text="t", cron="0 * * * *", timezone="Europe/Berlin")
    local = [t.strftime("%H:%M%z") for t in next_fire_times(job, utc(2026, 3, 28, 23, 30), 3)]
    assert local == ["01:00+0100", "03:00+0200", "04:00+0200"]


def test_fall_back_day_never_repeats_a_firing() -> None:
    # 02:30 happens twice in Berlin on 2026-10-25; each instant fires at most once
    job = CronJob(name="j", text="t", cron="30 2 * * *", timezone="Europe/Berlin")
    times = [t.astimezone(UTC) for t in next_fire_times(job, utc(2026, 10, 24, 12), 3)]
    assert all(b > a for a, b in zip(times, times[1:], strict=False))
    assert iso_utc(times)[-1] == "2026-10-26 01:30"


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (timedelta(minutes=90), ["2026-01-01 01:30", "2026-01-01 03:00", "2026-01-01 04:30"]),
        (timedelta(days=1), ["2026-01-02 00:00", "2026-01-03 00:00", "2026-01-04 00:00"]),
    ],
)
def test_interval_schedules(interval: timedelta, expected: list[str]) -> None:
    job = CronJob(name="j", text="t", interval=interval)
    assert iso_utc(next_fire_times(job, utc(2026, 1, 1), 3)) == expected


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("*", "*"),
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0,6", "sun,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("5-7", "sun,fri,sat"),
        ("mon-fri", "mon-fri"),
    ],
)
def test_crontab_weekdays(field: str, expected: str) -> None:
    assert crontab_weekdays(field) == expected


@pytest.mark.parametrize(
    "options",
    [
        {"name": "j", "text": "t"},
        {"name": "j", "text": "t", "cron": "* * * * *", "interval": timedelta(seconds=1)},
        {"name": "j", "text": "t", "cron": "* * *"},
        {"name": "j", "text": "t", "cron": "61 * * * *"},
        {"name": "j", "text": "t", "cron": "* * * * 9"},
        {"name": "j", "text": "t", "interval": timedelta(0)},
        {"name": "j", "text": "t", "cron": "* * * * *", "timezone": "Mars/Olympus"},
        {"name": "bad name", "text": "t", "cron": "* * * * *"},
        {"name": "j", "text": "  ", "cron": "* * * * *"},
    ],
)
def test_invalid_jobs(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        CronJob(**options)  # type: ignore[arg-type]


def test_duplicate_job_names() -> None:
    job = CronJob(name="j", text="t", cron="* * * * *")
    with pytest.raises(ConfigurationError, match="unique"):
        CronInput([job, job])


def test_firing_id_is_the_utc_slot() -> None:
    job = CronJob(name="daily", text="t", cron="0 9 * * *", timezone="Europe/Paris")
    [slot] = next_fire_times(job, utc(2026, 1, 1), 1)
    assert firing_id(job, slot) == "daily:2026-01-01T08:00:00+00:00"


async def test_a_real_firing_through_the_runner() -> None:
    out = InMemoryConnector("out")
    agent = Recorder()
    job = CronJob(name="tick", text="tick tock", interval=timedelta(milliseconds=30))
    cron = CronInput([job])
    async with running([cron], [out], agent, routes={"cron": ["out"]}):
        [(request, reply)] = (await out.wait_for_replies(1))[:1]
    assert reply.text == "echo: tick tock"
    assert request.source == "cron" and request.conversation_id == "tick"
    scheduled = request.metadata["scheduled_at"]
    assert request.id == f"tick:{scheduled}"
    assert datetime.fromisoformat(str(scheduled)).tzinfo is not None


async def wait_journal_done(store: Store, key: str) -> None:
    for _ in range(500):
        if all(entry.key != key for entry in await store.journal_pending()):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{key} still pending")


async def test_no_pile_up_while_busy_and_no_double_firing_of_a_slot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()
    seen: list[Message] = []

    async def slow(message: Message, context: AgentContext) -> str:
        seen.append(message)
        await release.wait()
        return "done"

    out = InMemoryConnector("out")
    job = CronJob(name="post", text="write", cron="0 * * * *")
    cron = CronInput([job])
    path = tmp_path / "s.sqlite3"
    slots = next_fire_times(job, utc(2026, 1, 1), 3)
    store = SQLiteStore(path)
    caplog.set_level(logging.INFO, logger="connectors.cron")
    async with running([cron], [out], slow, store=store, routes={"cron": ["out"]}):
        assert await cron.fire("post", at=slots[0])
        assert not await cron.fire("post", at=slots[1])  # the agent is still busy
        assert "skipped" in caplog.text
        release.set()
        await out.wait_for_replies(1)
        await wait_journal_done(store, f"cron:{firing_id(job, slots[0])}")
        assert not await cron.fire("post", at=slots[0])  # that slot fired already
        assert await cron.fire("post", at=slots[2])
        await out.wait_for_replies(2)
    # A restart within a slot that already fired does not fire it again.
    cron2 = CronInput([job])
    async with running([cron2], [out], slow, store=SQLiteStore(path), routes={"cron": ["out"]}):
        assert not await cron2.fire("post", at=slots[2])
    assert [m.id for m in seen] == [firing_id(job, slots[0]), firing_id(job, slots[2])]


async def test_two_replicas_on_one_store_fire_a_slot_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job = CronJob(name="post", text="write", cron="0 * * * *")
    one, two = CronInput([job]), CronInput([job])
    out_one, out_two = InMemoryConnector("out"), InMemoryConnector("out")
    path = tmp_path / "shared.sqlite3"
    slot = next_fire_times(job, utc(2026, 1, 1))[0]
    caplog.set_level(logging.INFO, logger="connectors.cron")
    routes = {"cron": ["out"]}
    async with (
        running([one], [out_one], Recorder(), store=SQLiteStore(path), routes=routes),
        running([two], [out_two], Recorder(), store=SQLiteStore(path), routes=routes),
    ):
        fired = await asyncio.gather(one.fire("post", at=slot), two.fire("post", at=slot))
        assert sorted(fired) == [False, True]
        winner = out_one if fired[0] else out_two
        await winner.wait_for_replies(1)
    assert len(out_one.sent) + len(out_two.sent) == 1
    assert "fires in another process" in caplog.text
