"""``.env.example`` lists every setting, and a copy of it as ``.env`` starts cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from dotenv import dotenv_values
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from agent_runner.llm import LLMSettings, agent_from_env
from agent_runner.mcp import MCPSettings
from agent_runner.media import MediaSettings
from agent_runner.observability import AdminSettings
from agent_runner.outbound import OutboundSettings
from agent_runner.settings import RunnerSettings
from connectors.discord import DiscordSettings
from connectors.http import HTTPSettings
from connectors.slack import SlackSettings
from connectors.telegram import TelegramSettings
from connectors.x import XSettings

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
SETTINGS: list[type[BaseSettings]] = [
    RunnerSettings,
    AdminSettings,
    OutboundSettings,
    MediaSettings,
    LLMSettings,
    MCPSettings,
    HTTPSettings,
    DiscordSettings,
    XSettings,
    TelegramSettings,
    SlackSettings,
]


def variables(cls: type[BaseSettings]) -> set[str]:
    """The environment variable each field of a settings class is read from (its first name)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names = set()
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            first = alias.choices[0]
            names.add(str(first).upper())
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add((prefix + name).upper())
    return names


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda c: c.__name__)
def test_every_setting_is_listed_in_env_example(cls: type[BaseSettings]) -> None:
    listed = set(dotenv_values(EXAMPLE))
    missing = variables(cls) - listed
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_a_copy_of_env_example_as_env_starts_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    values = dotenv_values(EXAMPLE)
    for key, value in values.items():
        monkeypatch.setenv(key, value or "")
    for cls in SETTINGS:
        cls()  # empty values count as unset, never as invalid
    assert agent_from_env(system_prompt="hi") is None  # no model configured: the offline agent
    assert XSettings().daily_post_cap is None
    assert HTTPSettings().auth_token is None


def test_the_scaffolds_env_example_lists_real_settings_with_their_defaults(
    tmp_path: Path,
) -> None:
    """``agent-runner init`` writes its own .env.example: every line must be a setting listed
    here, with the same value (a renamed setting or a changed default fails here)."""
    from agent_runner._scaffold import write_project

    write_project(tmp_path)
    scaffold = dotenv_values(tmp_path / ".env.example")
    listed = dotenv_values(EXAMPLE)
    assert scaffold, "the scaffold's .env.example is empty"
    assert {name: listed.get(name, "(not listed)") for name in scaffold} == scaffold
