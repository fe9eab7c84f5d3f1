"""Done when: with the main job running (`make run`: `agent-runner run examples/run.py`),
``curl localhost:<admin port>/metrics`` shows the counters move with each message."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from .support import free_port, reap, sample, stop_gracefully

ROOT = Path(__file__).resolve().parents[2]
AGENT_RUNNER = Path(sys.executable).parent / "agent-runner"


def fetch(url: str, data: bytes | None = None) -> str:
    headers = {"Content-Type": "application/json"} if data else {}
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.read().decode())


def test_the_main_jobs_metrics_move_with_each_message(tmp_path: Path) -> None:
    admin_port = free_port()
    env = {
        **os.environ,
        "HTTP_PORT": "0",
        "AGENT_RUNNER_ADMIN_PORT": str(admin_port),
        "AGENT_RUNNER_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(ROOT),
        "AGENT_RUNNER_LOG_LEVEL": "INFO",  # the start line is read below
    }
    for name in ("LLM_BASE_URL", "LLM_API_KEY", "OPENAI_API_KEY", "REDIS_URL"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [str(AGENT_RUNNER), "run", str(ROOT / "examples" / "run.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        http = admin = None
        log: list[str] = []
        for line in proc.stderr:
            log.append(line)
            if match := re.search(r"HTTP listening on (http://\S+)", line):
                http = match.group(1)
            if match := re.search(r"operator endpoint on (http://\S+)", line):
                admin = match.group(1)
            if "agent runner started" in line:
                break
        assert http and admin == f"http://127.0.0.1:{admin_port}", "".join(log)
        metrics = f"{admin}/metrics"
        body = json.dumps({"text": "hello", "conversation_id": "me"}).encode()
        for n in (1, 2, 3):
            fetch(f"{http}/v1/messages", body)
            text = fetch(metrics)
            assert sample(text, "agent_runner_messages_received_total", source="http") == n
            assert sample(text, "agent_runner_messages_handled_total", source="http") == n
            assert sample(text, "agent_runner_replies_total", output="http", outcome="sent") == n
        assert json.loads(fetch(f"{admin}/readyz")) == {"ready": True, "reasons": []}
        assert stop_gracefully(proc) == 0
    finally:
        reap(proc)
