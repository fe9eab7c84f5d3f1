"""examples/telegram_bot.py works as its docstring says, against the fake Telegram."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from agent_runner.testing.telegram import FakeTelegram

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "telegram_bot.py"


def load_example(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], data_dir: Path
) -> ModuleType:
    for key in ("LLM_BASE_URL", "LLM_API_KEY", "OPENAI_API_KEY", "LLM_MODEL"):
        monkeypatch.delenv(key, raising=False)  # the offline echo agent
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TELEGRAM_POLL_TIMEOUT", "1")
    monkeypatch.setenv("AGENT_RUNNER_DATA_DIR", str(data_dir))
    spec = importlib.util.spec_from_file_location("telegram_bot_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_bot_answers_with_its_sqlite_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with FakeTelegram() as fake:
        example = load_example(monkeypatch, fake.env(), tmp_path)
        runtime = example.runtime
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
    env = {
        "PATH": "",
        "AGENT_RUNNER_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(EXAMPLE.parents[1]),
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--fake"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Alice said: hello bot!" in out and "Alice said: what's up?" in out
    assert "Alice pressed coffee" in out and "[Tea, Coffee]" in out
    assert "nobody mentioned you" not in out
