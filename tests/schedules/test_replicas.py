"""Follow-ups fire exactly once with three runner processes on one store: a SQLite file, and
Redis. Each process runs a FollowUpInput polling every 50 ms; every due slot races."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

from agent_runner import Message, SQLiteStore, Store
from agent_runner.distributed import RedisStore
from agent_runner.schedules import FollowUps

ROOT = Path(__file__).resolve().parents[2]
COUNT = 6


async def start(*args: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.schedules.app",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        while (line := await proc.stdout.readline()) != b"READY\n":
            assert line, f"the runner exited with {await proc.wait()}"
    return proc


async def fired_once_by_three(store: Store, *args: str) -> None:
    procs = await asyncio.gather(*(start(*args) for _ in range(3)))
    try:
        followups = FollowUps()
        await store.open()
        try:
            for n in range(COUNT):
                asked = Message.model_validate(
                    {
                        "id": f"m{n}",
                        "conversation_id": f"c{n}",
                        "source": "chat",
                        "author": {"id": "ada"},
                        "text": "remind me",
                    }
                )
                await followups.add(store, asked, f"reminder {n}", delay=0.5)
            async with asyncio.timeout(60):
                while True:  # until every follow-up fired and was forgotten
                    if not await followups.scheduled(store):
                        break
                    await asyncio.sleep(0.1)
        finally:
            await store.close()
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        outputs = await asyncio.gather(*(proc.communicate() for proc in procs))
        codes = [proc.returncode for proc in procs]
    assert codes == [0, 0, 0]
    turns = Counter(
        line.split()[1]
        for out, _ in outputs
        for line in out.decode().splitlines()
        if line.startswith("TURN ")
    )
    assert sorted(turns.values()) == [1] * COUNT, turns
    assert all(key.startswith("chat:followup-") for key in turns)


async def test_three_processes_on_one_sqlite_file_fire_each_follow_up_once(tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite3"
    await fired_once_by_three(SQLiteStore(db), "--db", str(db))


async def test_three_processes_on_redis_fire_each_follow_up_once(
    redis_url: str, redis_prefix: str
) -> None:
    await fired_once_by_three(
        RedisStore(redis_url, prefix=redis_prefix), "--redis", redis_url, "--prefix", redis_prefix
    )
