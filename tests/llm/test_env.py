"""agent_from_env: an LLMAgent when a model endpoint is configured, None otherwise."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from agent_runner.errors import ConfigurationError
from agent_runner.llm import LLMAgent, LLMSettings, OpenAIClient, agent_from_env

VARIABLES = [
    "LLM_BASE_URL",
    "LLM_API_KEY",
    "OPENAI_API_KEY",
    "LLM_MODEL",
    "LLM_TIMEOUT",
    "LLM_MAX_RETRIES",
    "LLM_MAX_OUTPUT_TOKENS",
    "LLM_MAX_STEPS",
    "LLM_TEMPERATURE",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_nothing_configured_gives_none() -> None:
    assert agent_from_env(system_prompt="s") is None


def test_blank_values_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_BASE_URL", "")
    monkeypatch.setenv("OPENAI_API_KEY", " ")
    monkeypatch.setenv("LLM_MAX_OUTPUT_TOKENS", "")
    assert agent_from_env(system_prompt="s") is None


async def test_a_local_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("LLM_MODEL", "llama3.1")
    monkeypatch.setenv("LLM_MAX_STEPS", "3")
    monkeypatch.setenv("LLM_MAX_OUTPUT_TOKENS", "256")

    def ping() -> str:
        """Say pong."""
        return "pong"

    agent = agent_from_env(system_prompt="Be brief.", tools=[ping], max_tool_calls=4)
    assert isinstance(agent, LLMAgent)
    try:
        assert isinstance(agent.model_client, OpenAIClient)
        assert agent.model_client.model == "llama3.1" and agent.model_name == "llama3.1"
        assert agent.model_client.base_url == "http://127.0.0.1:11434/v1/"
        assert (agent.max_steps, agent.max_output_tokens, agent.max_tool_calls) == (3, 256, 4)
        assert list(agent.tools) == ["ping"]
    finally:
        await agent.close()


async def test_openai_with_a_key_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    agent = agent_from_env(system_prompt="s")
    assert agent is not None
    try:
        assert agent.model_client.model == "gpt-4o-mini"
    finally:
        await agent.close()


def test_a_base_url_without_a_model_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:8000/v1")
    with pytest.raises(ConfigurationError, match="LLM_MODEL"):
        agent_from_env(system_prompt="s")


def test_settings_keep_the_key_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_API_KEY", "sk-very-secret")
    settings = LLMSettings()
    assert settings.configured
    assert "sk-very-secret" not in repr(settings) and "sk-very-secret" not in str(settings)
    assert LLMSettings(api_key=SecretStr("x"), model="m").model == "m"
