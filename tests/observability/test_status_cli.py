"""`agent-runner status [URL]` against a live runner: the summary, and the exit code a script
can use (0 ready, 1 not ready, 2 unreachable)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from agent_runner.observability import AdminSettings

from .support import free_port, running

AGENT_RUNNER = Path(sys.executable).parent / "agent-runner"


async def status(*args: str, token: str | None = None) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_RUNNER_ADMIN_")}
    if token:
        env["AGENT_RUNNER_ADMIN_TOKEN"] = token
    proc = await asyncio.create_subprocess_exec(
        str(AGENT_RUNNER), "status", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_status_summarises_a_live_runner() -> None:
    admin = AdminSettings(port=free_port(), token="cli-token")
    async with running(admin=admin) as (_, chat, url):
        for n in range(3):
            await chat.push(f"hi {n}", conversation_id=f"c{n}")
        await chat.wait_for_replies(3)
        code, out, err = await status(url, token="cli-token")
        assert code == 0, err
        assert out.splitlines()[0].startswith("runner: READY")
        assert "messages: 3 received, 3 handled, 0 failed" in out
        assert "3 active conversation(s)" in out
        assert "connector memory: up" in out
        assert "cli-token" not in out + err

        chat.down_grace = 0.0
        chat.report("reconnecting")
        code, out, _ = await status(url, token="cli-token")
        assert code == 1
        assert "NOT READY" in out and "! connector: memory has been reconnecting" in out

        code, _, err = await status(url)  # no token
        assert code == 2 and "401" in err


async def test_status_of_nothing_running() -> None:
    code, _, err = await status(f"http://127.0.0.1:{free_port()}")
    assert code == 2 and "cannot read" in err
