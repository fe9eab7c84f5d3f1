"""Worker processes for the tests, and polling helpers (short steps, bounded waits)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio as redis

REPO = Path(__file__).resolve().parents[2]
FAST = ("--heartbeat-interval", "0.1", "--heartbeat-ttl", "1.0", "--claim-min-idle", "0.3")


class Workers:
    """Starts ``python -m agent_runner.distributed`` children; kills leftovers at the end."""

    def __init__(
        self,
        redis_url: str,
        prefix: str,
        module: str = "tests.distributed.agents",
        *,
        record: bool = True,
    ) -> None:
        self.record = record
        self.redis_url = redis_url
        self.prefix = prefix
        self.module = module
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, Path] = {}

    def start(self, worker_id: str, *extra: str, partitions: int = 8) -> subprocess.Popen[bytes]:
        log = Path(tempfile.mkstemp(prefix=f"{worker_id}-", suffix=".log")[1])
        args = [sys.executable, "-m", "agent_runner.distributed", self.module]
        args += ["--redis-url", self.redis_url, "--prefix", self.prefix, "--worker-id", worker_id]
        args += ["--partitions", str(partitions), "--log-level", "WARNING", *FAST, *extra]
        env = {
            **os.environ,
            "REDIS_URL": self.redis_url,
            "TEST_RECORD_KEY": f"{self.prefix}:rec" if self.record else "",
            "TEST_PREFIX": self.prefix,
            "WORKER_NAME": worker_id,
            "PYTHONPATH": str(REPO),
        }
        with log.open("wb") as out:
            proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=out)
        self.procs[worker_id] = proc
        self._logs[worker_id] = log
        return proc

    def kill(self, worker_id: str) -> None:
        proc = self.procs[worker_id]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def terminate(self, worker_id: str) -> int:
        proc = self.procs[worker_id]
        proc.terminate()
        return proc.wait(timeout=20)

    def logs(self) -> str:
        return "\n".join(
            f"--- {w}\n{p.read_text(errors='replace')[-3000:]}" for w, p in self._logs.items()
        )

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        for log in self._logs.values():
            log.unlink(missing_ok=True)


async def wait_for(
    condition: Callable[[], Awaitable[bool]], *, within: float = 60.0, what: str = "condition"
) -> None:
    """Poll ``condition`` every 20 ms until true; TimeoutError after ``within`` seconds."""
    async with asyncio.timeout(within):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.02)


async def lease_holders(client: redis.Redis, prefix: str, agent_type: str, count: int) -> list[str]:
    keys = [f"{prefix}:lease:{agent_type}:{p}" for p in range(count)]
    values = await client.mget(keys)
    return [v.decode() if isinstance(v, bytes) else (v or "") for v in values]


async def wait_hosted(
    redis_url: str, prefix: str, agent_type: str, count: int, workers: set[str]
) -> None:
    """Wait until exactly ``workers`` hold the ``count`` partition leases of ``agent_type``."""
    admin = redis.Redis.from_url(redis_url)
    try:

        async def hosted() -> bool:
            return set(await lease_holders(admin, prefix, agent_type, count)) == workers

        await wait_for(hosted)
    finally:
        await admin.aclose()
