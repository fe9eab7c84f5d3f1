"""The agent-runner command: init, run (in-process and as a real subprocess), check, worker."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import agent_runner.distributed
from agent_runner import cli

ROOT = Path(__file__).resolve().parents[1]
AGENT_RUNNER = Path(sys.executable).parent / "agent-runner"
ENV_NAMES = ("AGENT_RUNNER_DATA_DIR", "AGENT_RUNNER_LOG_LEVEL", "HTTP_PORT", "CLI_TEST_CODE")


@pytest.fixture(autouse=True)
def keep_logging_and_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)
    sys.modules.pop(cli.MODULE_NAME, None)


def test_init_writes_a_project_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "mybot"
    assert cli.main(["init", str(project)]) == 0
    assert sorted(p.name for p in project.iterdir()) == [".env.example", "README.md", "run.py"]
    assert "mybot" in (project / "README.md").read_text()
    compile((project / "run.py").read_text(), "run.py", "exec")
    assert f"agent-runner run {project / 'run.py'}" in capsys.readouterr().out
    assert cli.main(["init", str(project)]) == 1
    assert "not overwriting" in capsys.readouterr().err
    assert cli.main(["init", str(project), "--force"]) == 0


def test_run_awaits_main_with_dotenv_loaded(tmp_path: Path) -> None:
    bot = tmp_path / "bot.py"
    bot.write_text(
        textwrap.dedent(
            """
            import os

            async def main():
                return int(os.environ["CLI_TEST_CODE"])
            """
        )
    )
    (tmp_path / ".env").write_text("CLI_TEST_CODE=7\nAGENT_RUNNER_LOG_LEVEL=WARNING\n")
    assert cli.main(["run", str(bot)]) == 7
    os.environ["CLI_TEST_CODE"] = "3"  # the environment wins over .env
    assert cli.main(["run", str(bot)]) == 3
    other = tmp_path / "other.env"
    other.write_text("CLI_TEST_CODE=5\n")
    del os.environ["CLI_TEST_CODE"]
    assert cli.main(["run", str(bot), "--env-file", str(other)]) == 5


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = 1\n", "defines neither"),
        ("def main():\n    return 0\n", "defines neither"),
    ],
)
def test_run_refuses_files_without_an_entry_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, message: str
) -> None:
    bot = tmp_path / "bot.py"
    bot.write_text(source)
    assert cli.main(["run", str(bot)]) == 2
    assert message in capsys.readouterr().err


def test_run_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", str(tmp_path / "missing.py")]) == 2
    assert "does not exist" in capsys.readouterr().err
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom at import')\n")
    assert cli.main(["run", str(broken)]) == 1
    assert "boom at import" in capsys.readouterr().err
    os.environ["AGENT_RUNNER_LOG_LEVEL"] = "LOUD"
    assert cli.main(["check"]) == 2
    assert "AGENT_RUNNER_LOG_LEVEL" in capsys.readouterr().err


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def test_check_without_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    os.environ["HTTP_PORT"] = str(port)
    assert cli.main(["check"]) == 0
    out = capsys.readouterr().out
    assert "AGENT_RUNNER_DATA_DIR = data" in out
    assert f"HTTP on http://127.0.0.1:{port}" in out
    assert "ok: settings are valid" in out


def test_check_a_scaffolded_bot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "bot"
    assert cli.main(["init", str(project)]) == 0
    port = free_port()
    os.environ["HTTP_PORT"] = str(port)
    assert cli.main(["check", str(project / "run.py")]) == 0
    out = capsys.readouterr().out
    assert f"inputs:\n  - http: HTTP on http://127.0.0.1:{port}" in out
    assert "outputs:\n  - http:" in out
    assert "store: SQLiteStore(" in out
    assert "ok: this is what `agent-runner run` would start" in out


def test_worker_hands_over_the_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def worker_command(argv: list[str]) -> int:
        calls.append(argv)
        return 4

    monkeypatch.setattr(agent_runner.distributed, "worker_command", worker_command, raising=False)
    assert cli.main(["worker", "--redis", "redis://x", "bot.py"]) == 4
    assert calls == [["--redis", "redis://x", "bot.py"]]


def test_worker_without_the_distributed_runtime(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delattr(agent_runner.distributed, "worker_command", raising=False)
    assert cli.main(["worker"]) == 2
    assert "worker_command" in capsys.readouterr().err


def run_bot_and_talk(bot: Path, tmp_path: Path, expected: list[str]) -> None:
    """`agent-runner run bot` in a subprocess: POST messages, compare replies, SIGTERM -> 0."""
    env = {
        **os.environ,
        "HTTP_PORT": "0",
        "AGENT_RUNNER_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(ROOT),
    }
    for name in ("LLM_BASE_URL", "LLM_API_KEY", "OPENAI_API_KEY", "REDIS_URL"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [str(AGENT_RUNNER), "run", str(bot)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        url = None
        log: list[str] = []
        for line in proc.stderr:
            log.append(line)
            if match := re.search(r"HTTP listening on (http://\S+)", line):
                url = match.group(1)
            if url and "agent runner started" in line:
                break
        assert url, "".join(log)
        request = urllib.request.Request(
            f"{url}/v1/messages",
            data=json.dumps({"text": "hello", "conversation_id": "me"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        for text in expected:
            with urllib.request.urlopen(request, timeout=10) as resp:
                answer = json.loads(resp.read())
            assert answer["replies"] == [{"text": text}]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert (tmp_path / "data" / f"{bot.stem}.sqlite3").exists()  # one store per bot
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_init_then_run_the_scaffold_in_a_subprocess(tmp_path: Path) -> None:
    project = tmp_path / "mybot"
    subprocess.run([str(AGENT_RUNNER), "init", str(project)], check=True, capture_output=True)
    run_bot_and_talk(
        project / "run.py",
        tmp_path,
        [f"You said 'hello' (message {n} in this conversation)" for n in (1, 2)],
    )


def test_the_main_job_runs_offline(tmp_path: Path) -> None:
    run_bot_and_talk(
        ROOT / "examples" / "run.py",
        tmp_path,
        [
            "You said 'hello' (message 1 in this conversation)",
            "You said 'hello' (message 2 in this conversation); before that you said 'hello'",
        ],
    )
