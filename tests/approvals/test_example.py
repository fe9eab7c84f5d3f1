"""examples/assistant_bot.py --fake runs end to end (its MCP server child, the approval
through the admin endpoint, the follow-up) and exits 0."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


async def test_the_assistant_example_runs_offline_and_exits_zero() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "assistant_bot.py"),
        "--fake",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(120):
        output, _ = await proc.communicate()
    text = output.decode()
    assert proc.returncode == 0, text
    assert "admin API: POST" in text and "-> 200 approved" in text
    assert "bot (resumed): 250.00 EUR = 270.00 USD; paid 250 EUR to Alice" in text
    assert "follow-up from agent-runner:schedule: Reminder: check the payment" in text
