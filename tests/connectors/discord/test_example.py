"""examples/discord_bot.py works as its docstring says, against the fake Discord."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from agent_runner.testing.discord import FakeDiscord

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "discord_bot.py"


def load_example(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], data_dir: Path
) -> ModuleType:
    for key in ("LLM_BASE_URL", "LLM_API_KEY", "OPENAI_API_KEY", "LLM_MODEL"):
        monkeypatch.delenv(key, raising=False)  # the offline echo agent
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AGENT_RUNNER_DATA_DIR", str(data_dir))
    spec = importlib.util.spec_from_file_location("discord_bot_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_bot_answers_mentions_with_its_sqlite_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with FakeDiscord() as fake:
        example = load_example(monkeypatch, fake.env(), tmp_path)
        runtime = example.runtime
        assert type(runtime.store).__name__ == "SQLiteStore"
        task = asyncio.ensure_future(runtime.run())
        try:
            await runtime.wait_started()
            await fake.wait_ready()
            asked = await fake.post_user_message(fake.channel_id, "hi there", mention_bot=True)
            [reply] = await fake.wait_for_messages(fake.channel_id, 1)
        finally:
            await runtime.stop()
            await task
    assert reply.reply_to == asked.id
    assert reply.content == "Alice said: hi there"


async def test_the_offline_demo_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load_example(monkeypatch, {"DISCORD_TOKEN": "unused"}, tmp_path)
    await example.offline_demo()
    out = capsys.readouterr().out
    assert "Alice said: hello bot!" in out and "Alice said: show me code" in out
    assert "nobody mentioned you" not in out
