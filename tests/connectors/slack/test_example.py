"""examples/slack_bot.py works as its docstring says, against the fake Slack."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent_runner.testing.slack import FakeSlack
from tests.connectors._examples import load_example, run_offline_demo


async def test_the_example_bot_answers_with_its_sqlite_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with FakeSlack() as fake:
        runtime = load_example(monkeypatch, "slack_bot", fake.env(), tmp_path).runtime
        assert type(runtime.store).__name__ == "SQLiteStore"
        task = asyncio.ensure_future(runtime.run())
        try:
            await runtime.wait_started()
            await fake.wait_until(lambda: fake.connections == 1)
            asked = await fake.post_user_message(fake.channel, "hi there", mention_bot=True)
            [reply] = await fake.wait_for_messages(fake.channel, 1)
        finally:
            await runtime.stop()
            await task
    assert (reply.text, reply.thread_ts) == ("alice said: hi there", asked.ts)


def test_the_offline_demo_runs_and_exits_0(tmp_path: Path) -> None:
    out = run_offline_demo("slack_bot", tmp_path)
    assert "alice said: hello bot!" in out and "alice said: what's up?" in out
    assert "alice pressed coffee" in out and "[Tea, Coffee]" in out
    assert "nobody mentioned you" not in out
