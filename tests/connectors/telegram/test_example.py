"""examples/telegram_bot.py works as its docstring says, against the fake Telegram."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent_runner.testing.telegram import FakeTelegram
from tests.connectors._examples import load_example, run_offline_demo


async def test_the_example_bot_answers_with_its_sqlite_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with FakeTelegram() as fake:
        env = fake.env() | {"TELEGRAM_POLL_TIMEOUT": "1"}
        runtime = load_example(monkeypatch, "telegram_bot", env, tmp_path).runtime
        assert type(runtime.store).__name__ == "SQLiteStore"
        task = asyncio.ensure_future(runtime.run())
        try:
            await runtime.wait_started()
            asked = fake.send_user_message(fake.private, "hi there")
            [reply] = await fake.wait_for_messages(fake.private, 1)
        finally:
            await runtime.stop()
            await task
    assert (reply.text, reply.reply_to_id) == ("Alice said: hi there", asked.message_id)


def test_the_offline_demo_runs_and_exits_0(tmp_path: Path) -> None:
    out = run_offline_demo("telegram_bot", tmp_path)
    assert "Alice said: hello bot!" in out and "Alice said: what's up?" in out
    assert "Alice pressed coffee" in out and "[Tea, Coffee]" in out
    assert "nobody mentioned you" not in out
