"""Runner-wide settings: defaults, environment names, validation, masking."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_runner.errors import ConfigurationError
from agent_runner.llm import LLMSettings
from agent_runner.settings import RunnerSettings, configure_logging, load_settings, mask_url

ENV_NAMES = (
    "AGENT_RUNNER_DATA_DIR",
    "AGENT_RUNNER_LOG_LEVEL",
    "REDIS_URL",
    "AGENT_RUNNER_HOST_CONVERSATIONS",
    "LLM_BASE_URL",
    "LLM_MODEL",
    "LLM_API_KEY",
    "OPENAI_API_KEY",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.data_dir == Path("./data")
    assert settings.store_path == Path("./data/agent-runner.sqlite3")
    assert settings.log_level == "INFO"
    assert settings.redis_url is None
    assert settings.host_conversations is True
    assert not LLMSettings().configured


def test_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AGENT_RUNNER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AGENT_RUNNER_LOG_LEVEL", "debug")
    monkeypatch.setenv("REDIS_URL", "redis://:pw@localhost:6379/0")
    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("LLM_MODEL", "llama3")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    settings = load_settings()
    assert settings.data_dir == tmp_path
    assert settings.log_level == "DEBUG"
    llm = LLMSettings()  # the one class that reads LLM_*
    assert llm.model == "llama3"
    assert llm.api_key is not None
    assert llm.api_key.get_secret_value() == "sk-test"
    assert llm.configured
    described = settings.describe()
    assert "sk-test" not in repr(settings)
    assert "sk-test" not in str(described)
    assert "pw" not in described["REDIS_URL"]
    assert described["LLM_API_KEY"] == "(set)"


def test_blank_values_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_MODEL", "  ")
    monkeypatch.setenv("REDIS_URL", "")
    settings = RunnerSettings()
    assert LLMSettings().model is None
    assert settings.redis_url is None


def test_invalid_value_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_RUNNER_LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigurationError, match="LOG_LEVEL"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://localhost:6379", "redis://localhost:6379"),
        ("redis://:secret@host:6379/0", "redis://***@host:6379/0"),
        ("redis://user:secret@host", "redis://user:***@host"),
        ("not a url", "not a url"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_an_ingest_only_replica_is_one_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_RUNNER_HOST_CONVERSATIONS", "false")
    settings = load_settings()
    assert settings.host_conversations is False
    assert settings.describe()["AGENT_RUNNER_HOST_CONVERSATIONS"] == "false"


@pytest.fixture
def root_logging() -> Iterator[None]:
    names = ("", "httpx", "httpx2", "apscheduler")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("root_logging")
def test_per_request_http_client_lines_are_quiet_unless_debugging() -> None:
    """A Telegram poller's log was one identical httpx line per poll and per reply (they read
    as duplicated lines); below DEBUG the HTTP clients log only warnings."""
    configure_logging("INFO")
    for name in ("httpx", "httpx2", "apscheduler"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        assert logging.getLogger(name).isEnabledFor(logging.WARNING), name
    assert logging.getLogger("agent_runner.runtime").isEnabledFor(logging.INFO)
    configure_logging("DEBUG")
    assert logging.getLogger("httpx").isEnabledFor(logging.DEBUG)
