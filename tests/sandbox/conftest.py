"""Sandboxes for the tests: bubblewrap (required: under CI=true a host without it fails the
test, elsewhere it is skipped) and the fallback, with short limits; host-side probes."""

from __future__ import annotations

import os
import re
import resource
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_runner.sandbox import Sandbox, SandboxError, SandboxLimits
from tests.distributed._servers import unavailable

SHORT = SandboxLimits(wall_time=2.0, cpu_time=1.0, output_bytes=64 * 1024)
MARKED = re.compile(r"^run ([0-9a-f]{32})$", re.MULTILINE)


@pytest.fixture
async def bubblewrap() -> Sandbox:
    sandbox = Sandbox(isolation="bubblewrap", limits=SHORT)
    try:
        await sandbox.check()
    except SandboxError as exc:
        unavailable(str(exc))
    return sandbox


@pytest.fixture
def fallback() -> Sandbox:
    return Sandbox(isolation="fallback", limits=SHORT)


@pytest.fixture(params=["bubblewrap", "fallback"])
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    """Each isolation in turn, for escapes both contain."""
    fixture: Sandbox = request.getfixturevalue(request.param)
    return fixture


def run_id(stdout: str) -> str:
    """The run's id, printed by the probe's first line (``print("run", os.environ[...])``)."""
    found = MARKED.search(stdout)
    assert found, f"the probe did not print its run id: {stdout[:200]!r}"
    return found.group(1)


PRINT_RUN = "import os\nprint('run', os.environ['AGENT_RUNNER_SANDBOX'], flush=True)\n"


def live_processes(run: str) -> list[int]:
    """Host view: live (not zombie) processes whose environment carries the run's marker."""
    marker = f"AGENT_RUNNER_SANDBOX={run}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as file:
                state = file.read().rsplit(b")", 1)[1].split()[0]
            with open(f"/proc/{name}/environ", "rb") as file:
                environ = file.read().split(b"\0")
        except OSError:
            continue
        if state not in (b"Z", b"X") and marker in environ:
            found.append(int(name))
    return found


def marked_runs() -> set[str]:
    """Host view: the run ids of sandboxed processes alive now."""
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as file:
                for item in file.read().split(b"\0"):
                    if item.startswith(b"AGENT_RUNNER_SANDBOX="):
                        found.add(item.split(b"=", 1)[1].decode())
        except OSError:
            continue
    return found


def own_rss_bytes() -> int:
    """This test process's resident memory now."""
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * resource.getpagesize()


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def project() -> Iterator[Path]:
    """A project folder with a ``.env`` holding a secret, outside the temp dir (which
    bubblewrap replaces anyway) and reachable by every user wherever the repository is
    checked out (the fallback's tests need its user to reach it); world-readable, as a
    ``.env`` usually is."""
    folder = Path("/var/tmp") / f"agent-runner-sandbox-probe-{uuid.uuid4().hex[:8]}"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    (folder / ".env").write_text(f"OPENAI_API_KEY=sk-probe-{uuid.uuid4().hex}\n")
    os.chmod(folder / ".env", 0o644)
    try:
        yield folder
    finally:
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if not path.is_dir() else path.rmdir()
        folder.rmdir()
