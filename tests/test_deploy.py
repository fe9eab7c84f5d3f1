"""The deployment files, tested as far as this machine allows: no container engine runs here,
so the images are not built. What is checked: the Dockerfile's entrypoint command starts the
bot with the image's environment and its HEALTHCHECK command passes against it; compose.yaml
parses and its commands and variables are real commands and settings; the systemd unit
passes ``systemd-analyze verify`` and its ExecStart is a command agent-runner accepts."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent_runner.cli import build_parser
from agent_runner.settings import env_names, settings_classes
from tests.observability.support import free_port, reap, stop_gracefully

ROOT = Path(__file__).resolve().parents[1]
AGENT_RUNNER = Path(sys.executable).parent / "agent-runner"


def dockerfile() -> dict[str, Any]:
    """The final stage's instructions: ENV (a dict), USER, HEALTHCHECK, ENTRYPOINT, CMD."""
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n\s*", " ", text)  # join continued lines
    stages = re.split(r"^FROM ", text, flags=re.M)
    final: dict[str, Any] = {"ENV": {}}
    for line in stages[-1].splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "ENV":
            final["ENV"].update(dict(part.split("=", 1) for part in shlex.split(rest)))
        elif word in ("USER", "HEALTHCHECK", "ENTRYPOINT", "CMD", "EXPOSE", "VOLUME"):
            final[word] = rest.strip()
    final["FROM"] = [s.split()[0] for s in stages[1:]]
    return final


def test_the_image_is_slim_and_runs_as_a_user() -> None:
    image = dockerfile()
    assert all(base.endswith("-slim") for base in image["FROM"])
    assert image["USER"] not in ("root", "0")
    assert "/readyz" in image["HEALTHCHECK"]
    assert json.loads(image["ENTRYPOINT"]) == ["agent-runner"]
    known = set().union(*(env_names(cls) for cls in settings_classes()))
    ours = {k for k in image["ENV"] if not k.startswith("PYTHON")}
    assert ours <= known, ours - known


def test_the_entrypoint_runs_and_the_healthcheck_passes(tmp_path: Path) -> None:
    image = dockerfile()
    command = json.loads(image["ENTRYPOINT"]) + json.loads(image["CMD"])
    health = json.loads(image["HEALTHCHECK"].split("CMD", 1)[1].strip())
    admin = free_port()
    env = {
        **os.environ,
        **image["ENV"],
        "PYTHONPATH": str(ROOT),
        "AGENT_RUNNER_DATA_DIR": str(tmp_path / "data"),  # the image's /data
        "HTTP_PORT": "0",
        "AGENT_RUNNER_ADMIN_PORT": str(admin),
        "AGENT_RUNNER_ADMIN_TOKEN": "deploy-test-token",
        "AGENT_RUNNER_LOG_LEVEL": "INFO",  # the start line is read below
    }
    env.pop("REDIS_URL", None)
    command[0] = str(AGENT_RUNNER)
    check = [sys.executable if health[0] == "python" else health[0], *health[1:]]
    assert subprocess.run(check, env=env, capture_output=True, timeout=30).returncode != 0
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        log = []
        for line in proc.stderr:
            log.append(line)
            if "agent runner started" in line:
                break
        assert f"operator endpoint on http://0.0.0.0:{admin}" in "".join(log), "".join(log)
        done = subprocess.run(check, env=env, capture_output=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert stop_gracefully(proc) == 0
    finally:
        reap(proc)


def test_compose_runs_a_bot_two_workers_and_redis() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "bot", "worker"}
    assert services["worker"]["deploy"]["replicas"] == 2
    assert "--appendonly" in services["redis"]["command"]
    parser = build_parser()
    bot = services["bot"]["command"]
    assert parser.parse_args(bot).command == "run"
    assert (ROOT / bot[1]).is_file()
    worker = services["worker"]["command"]
    assert worker[0] == "worker"
    from agent_runner.distributed._worker_cli import _parser as worker_parser

    module = worker_parser().parse_args(worker[1:]).module
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file()
    known = set().union(*(env_names(cls) for cls in settings_classes()))
    for name in ("bot", "worker"):
        env = services[name]["environment"]
        assert set(env) <= known, set(env) - known
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert services[name]["build"] == "."
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_the_systemd_unit_is_valid() -> None:
    unit = ROOT / "deploy" / "agent-runner.service"
    text = unit.read_text()
    exec_start = re.search(r"^ExecStart=(.+)$", text, re.M)
    assert exec_start
    argv = shlex.split(exec_start.group(1))
    assert Path(argv[0]).name == "agent-runner"
    assert build_parser().parse_args(argv[1:]).command == "run"
    assert re.search(r"^User=(?!root)\S+$", text, re.M)
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in done.stderr.splitlines()
        if str(unit.name) in line
        and "is not executable" not in line
        and "No such file" not in line
        and "User" not in line
    ]
    assert not problems, done.stderr
