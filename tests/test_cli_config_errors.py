"""Configuration errors: one line naming the variable, exit 2, in ``check`` and ``run`` alike,
for every prefix (even settings the bot does not use), and ``check`` catching what ``run``
would trip over. The command runs as a real subprocess with a clean environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agent_runner import cli

AGENT_RUNNER = Path(sys.executable).parent / "agent-runner"


def agent_runner(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(_PREFIXES)}
    return subprocess.run(
        [str(AGENT_RUNNER), *args],
        cwd=cwd,
        env={**clean, "AGENT_RUNNER_ADMIN_PORT": "0", **env},  # (conftest: no endpoint)
        capture_output=True,
        text=True,
        timeout=120,
    )


_PREFIXES = ("AGENT_RUNNER_", "REDIS_", "LLM_", "MCP_", "HTTP_", "DISCORD_", "X_", "TELEGRAM_")
_PREFIXES += ("SLACK_", "OPENAI_")


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scaffolded bot that uses no model (its run.py builds HTTP + the offline agent)."""
    project = tmp_path_factory.mktemp("cfg") / "bot"
    assert cli.main(["init", str(project)]) == 0
    return project / "run.py"


BAD = {
    "LLM_TIMEOUT": "fast",
    "LLM_MAX_STEPS": "0",
    "HTTP_PORT": "99999",
    "HTTP_IDLE_TIMEOUT": "-1",
    "MCP_CALL_TIMEOUT": "soon",
    "AGENT_RUNNER_OUTBOUND_ALLOW": "10.0.0.0/99",
    "AGENT_RUNNER_LOG_LEVEL": "LOUD",
    "DISCORD_CHANNEL_IDS": "general",
    "X_POLL_INTERVAL": "-5",
    "TELEGRAM_POLL_TIMEOUT": "long",
    "SLACK_EVENTS_PORT": "-1",
}
"""A bad value for every prefix; the bot (HTTP and the offline agent) uses few of them."""


@pytest.mark.parametrize("command", ["check", "run"])
def test_every_bad_value_is_one_line_naming_its_variable(bot: Path, command: str) -> None:
    done = agent_runner(command, str(bot), cwd=bot.parent, **BAD)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == len(BAD), done.stderr
    for name, line in zip(sorted(BAD), sorted(lines), strict=True):
        assert line.startswith(f"agent-runner: error: invalid setting {name}"), line
    assert "Traceback" not in done.stderr and "pydantic" not in done.stderr


def test_a_mistyped_variable_gets_did_you_mean(bot: Path) -> None:
    done = agent_runner("check", cwd=bot.parent, HTTP_PORTT="9000", HTTP_PORT="0")
    assert done.returncode == 0, done.stderr
    assert "warning: HTTP_PORTT is not a setting agent-runner reads; did you mean HTTP_PORT?" in (
        done.stderr
    )


def test_check_catches_what_run_would_reject(bot: Path, tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        not_a_folder = tmp_path / "file"
        not_a_folder.write_text("")
        done = agent_runner(
            "check",
            str(bot),
            cwd=bot.parent,
            HTTP_PORT=port,
            REDIS_URL="http://nope",
            AGENT_RUNNER_DATA_DIR=str(not_a_folder),
            LLM_BASE_URL="localhost:11434",
            LLM_MODEL="llama3",
        )
        errors = done.stderr.strip().splitlines()
        assert done.returncode == 2
        assert len(errors) == 4, done.stderr
        assert all(line.startswith("agent-runner: error: ") for line in errors)
        text = done.stderr
        assert f"HTTP_HOST=127.0.0.1, HTTP_PORT={port}: cannot listen there" in text
        assert "REDIS_URL=http://nope: not a redis://" in text
        assert f"AGENT_RUNNER_DATA_DIR={not_a_folder}: {not_a_folder} is not a folder" in text
        assert "LLM_BASE_URL=localhost:11434: not an absolute http(s) URL" in text
        run = agent_runner("run", str(bot), cwd=bot.parent, HTTP_PORT=port)
        assert run.returncode == 2 and "cannot listen" in run.stderr


def test_check_names_a_bad_host_and_a_silent_redis(bot: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        silent = closed.getsockname()[1]
    done = agent_runner(
        "check",
        cwd=bot.parent,
        HTTP_HOST="999.1.1.1",
        REDIS_URL=f"redis://:secret@127.0.0.1:{silent}/0",
        AGENT_RUNNER_DATA_DIR="/proc/agent-runner",
    )
    assert done.returncode == 2
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 3, done.stderr
    assert "HTTP_HOST=999.1.1.1, HTTP_PORT=8080: cannot listen there" in errors[2]
    assert f"REDIS_URL=redis://***@127.0.0.1:{silent}/0: Redis does not answer" in errors[1]
    assert "secret" not in done.stderr
    assert errors[0].startswith("agent-runner: error: AGENT_RUNNER_DATA_DIR=/proc/agent-runner")
