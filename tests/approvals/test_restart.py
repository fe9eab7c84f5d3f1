"""Approvals across SIGKILL and restart, with real bot processes on one SQLite file: the
approval granted after the requesting process was killed runs the call exactly once, in
whichever process handles the conversation (also when two processes are told at once)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from tests.approvals.support import APPROVAL_ID

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = aiohttp.ClientTimeout(total=20)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Banker:
    def __init__(
        self, proc: asyncio.subprocess.Process, port: int, admin_port: int, log: Path
    ) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}/v1/messages"
        self.admin = f"http://127.0.0.1:{admin_port}/api/approvals"
        self.log = log
        """The bot's stderr (its log lines), to show when a test fails."""

    async def say(self, text: str) -> str:
        body = {"text": text, "conversation_id": "c1", "author": {"id": "ada"}}
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            async with http.post(self.url, json=body) as response:
                assert response.status == 200, await response.text()
                data: dict[str, Any] = await response.json()
        return str(data["replies"][0]["text"])

    async def decide(self, approval_id: str, decision: str) -> tuple[int, str]:
        """The admin API's status and body."""
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            body = {"decision": decision, "approver": "ops"}
            async with http.post(f"{self.admin}/{approval_id}", json=body) as response:
                return response.status, await response.text()

    def stderr(self) -> str:
        return f"--- {self.log.name}:\n{self.log.read_text()}"

    async def approval(self, approval_id: str) -> dict[str, Any]:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            async with http.get(f"{self.admin}/{approval_id}") as response:
                data: dict[str, Any] = await response.json()
                return data


@contextlib.asynccontextmanager
async def banker(tmp_path: Path) -> AsyncIterator[Banker]:
    port, admin_port = free_port(), free_port()
    log = tmp_path / f"bot-{port}.log"
    with log.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.approvals.app",
            "--db",
            str(tmp_path / "bank.sqlite3"),
            "--runs",
            str(tmp_path / "runs.txt"),
            "--port",
            str(port),
            "--admin-port",
            str(admin_port),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(30):
            while (line := await proc.stdout.readline()) != b"READY\n":
                assert line, f"the bot exited with {await proc.wait()}: {log.read_text()}"
        yield Banker(proc, port, admin_port, log)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                await proc.stdout.read()
                assert await proc.wait() == 0


async def settled(bot: Banker, approval_id: str) -> dict[str, Any]:
    """Poll the approval until its call's outcome is recorded (generous deadline)."""
    async with asyncio.timeout(30):
        while True:
            approval = await bot.approval(approval_id)
            if approval.get("result") is not None:
                return approval
            await asyncio.sleep(0.05)


def runs(tmp_path: Path) -> list[str]:
    path = tmp_path / "runs.txt"
    return path.read_text().splitlines() if path.exists() else []


async def killed_after_asking(tmp_path: Path) -> str:
    """A bot asks for approval of "send 500 to bob", then dies by SIGKILL; the approval id."""
    async with banker(tmp_path) as first:
        [approval_id] = APPROVAL_ID.findall(await first.say("send 500 to bob"))
        first.proc.kill()
        assert await first.proc.wait() == -signal.SIGKILL
    assert runs(tmp_path) == []
    return approval_id


async def test_approved_in_the_chat_after_sigkill_and_restart_runs_once(tmp_path: Path) -> None:
    approval_id = await killed_after_asking(tmp_path)
    async with banker(tmp_path) as second:
        assert await second.say(f"approve {approval_id}") == "done: sent 500 to bob"
        assert "before" in await second.say(f"approve {approval_id}")
    assert runs(tmp_path) == ["bob:500"]


async def test_approved_through_two_restarted_processes_at_once_runs_once(tmp_path: Path) -> None:
    approval_id = await killed_after_asking(tmp_path)
    async with banker(tmp_path) as one, banker(tmp_path) as two:
        answers = await asyncio.gather(
            one.decide(approval_id, "approve"), two.decide(approval_id, "approve")
        )
        # the same decision twice: one decides, one hands over
        assert [status for status, _ in answers] == [200, 200], (
            f"{answers}\n{one.stderr()}\n{two.stderr()}"
        )
        await settled(one, approval_id)
        assert (await two.approval(approval_id))["result"] == "sent 500 to bob"
    assert runs(tmp_path) == ["bob:500"]


async def test_a_refused_approval_after_restart_never_runs(tmp_path: Path) -> None:
    approval_id = await killed_after_asking(tmp_path)
    async with banker(tmp_path) as second:
        assert (await second.decide(approval_id, "deny"))[0] == 200
        await settled(second, approval_id)
        assert (await second.decide(approval_id, "approve"))[0] == 409
    assert runs(tmp_path) == []
