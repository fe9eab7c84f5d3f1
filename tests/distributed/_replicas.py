"""Replicas of a bot file run by ``agent-runner run``, for the replica and shard tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from agent_runner.store import Store

REPO = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "agent-runner"
SLACK = 20.0
"""Added to every wait: process start-up and a loaded machine, never a timing assertion."""


class Replicas:
    """``agent-runner run`` children, each with its own log file; leftovers killed at the end."""

    def __init__(self, bot: Path, tmp: Path, env: dict[str, str], *, ttl: float) -> None:
        self.bot, self.tmp, self.env, self.ttl = bot, tmp, env, ttl
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, **extra: str) -> None:
        """Start replica ``name`` (``extra``: more environment variables for it alone)."""
        env = {**os.environ, **self.env, "REPLICA": name, "LEASE_TTL": str(self.ttl), **extra}
        env["PYTHONPATH"] = str(REPO)
        env["AGENT_RUNNER_DATA_DIR"] = str(self.tmp / "data")
        with (self.tmp / f"{name}.log").open("wb") as out:
            self.procs[name] = subprocess.Popen(
                [str(CLI), "run", str(self.bot)], cwd=REPO, env=env, stdout=out, stderr=out
            )

    def running(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def named(self, pid: int) -> str | None:
        return next((n for n, p in self.procs.items() if p.pid == pid), None)

    def signal(self, name: str, sig: signal.Signals) -> None:
        self.procs[name].send_signal(sig)

    async def exited(self, name: str) -> int:
        proc = self.procs[name]
        async with asyncio.timeout(SLACK):
            while proc.poll() is None:  # noqa: ASYNC110 - a child's exit has no event here
                await asyncio.sleep(0.05)
        return proc.returncode

    def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def repeated_lines(log: str) -> list[str]:
    """INFO lines of a replica's log that occur more than once, timestamps aside (each line
    should say something new: which input, which shard, which message)."""
    lines = [line.split(" ", 2)[2] for line in log.splitlines() if " INFO " in line]
    return sorted({line for line in lines if lines.count(line) > 1})


async def holder(store: Store, lease: str, replicas: Replicas) -> str | None:
    held = await store.lease_holder(lease)
    return replicas.named(int(held.holder.split(":")[1])) if held is not None else None
