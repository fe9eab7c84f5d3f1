"""Helpers for tests of the example bots: import one as `agent-runner run` does, or run it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(
    monkeypatch: pytest.MonkeyPatch, name: str, env: dict[str, str], data_dir: Path
) -> ModuleType:
    """Import ``examples/{name}.py`` with ``env`` set and the offline echo agent."""
    for key in ("LLM_BASE_URL", "LLM_API_KEY", "OPENAI_API_KEY", "LLM_MODEL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AGENT_RUNNER_DATA_DIR", str(data_dir))
    spec = importlib.util.spec_from_file_location(f"{name}_example", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_offline_demo(name: str, cwd: Path) -> str:
    """``python examples/{name}.py --fake`` in a bare environment; its output (exit 0). The
    operator endpoint is off: the default 127.0.0.1:8081 may be held (a ``make run`` beside)."""
    env = {
        "PATH": "",
        "AGENT_RUNNER_DATA_DIR": str(cwd),
        "AGENT_RUNNER_ADMIN_PORT": "0",
        "PYTHONPATH": str(EXAMPLES.parent),
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--fake"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
