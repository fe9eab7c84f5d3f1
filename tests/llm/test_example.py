"""examples/llm_bot.py works: its tools, its runtime, one HTTP request answered by the model
(the local OpenAI-compatible server) after a tool call."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import aiohttp
import pytest

from agent_runner.llm import LLMAgent
from tests.llm.openai_server import OpenAIServer, calls, text
from tests.runner.support import running

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "llm_bot.py"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: OpenAIServer) -> None:
    for name in ("OPENAI_API_KEY", "LLM_TEMPERATURE", "LLM_MAX_STEPS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLM_BASE_URL", server.base_url)
    monkeypatch.setenv("LLM_MODEL", "test-model")
    monkeypatch.setenv("LLM_API_KEY", server.api_key)
    monkeypatch.setenv("HTTP_HOST", "127.0.0.1")
    monkeypatch.setenv("HTTP_PORT", "0")
    monkeypatch.delenv("HTTP_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("AGENT_RUNNER_DATA_DIR", str(tmp_path))


@pytest.mark.usefixtures("env")
async def test_the_example_bot_answers_over_http_with_a_tool(server: OpenAIServer) -> None:
    module = load_example("llm_bot_example")
    runtime, agent, http = module.runtime, module.agent, module.http
    assert isinstance(agent, LLMAgent)
    assert agent.tools["roll_dice"].parameters["properties"]["count"] == {
        "type": "integer",
        "default": 1,
        "minimum": 1,
        "maximum": 10,
        "description": "how many dice to roll.",
    }
    server.script(calls(("roll_dice", {"count": 2, "sides": 6})), text("You rolled two dice."))
    try:
        async with running(runtime):
            async with aiohttp.ClientSession() as session:
                async with session.post(
                    f"{http.url}/v1/messages",
                    json={"text": "Roll two dice", "conversation_id": "me"},
                ) as response:
                    assert response.status == 200, await response.text()
                    answer = await response.json()
    finally:
        await agent.close()
    assert [r["text"] for r in answer["replies"]] == ["You rolled two dice."]
    rolled = json.loads(
        next(m for m in server.requests[1]["messages"] if m["role"] == "tool")["content"]
    )
    assert len(rolled) == 2 and all(1 <= n <= 6 for n in rolled)
