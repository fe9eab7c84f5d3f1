"""Model-written code tries to escape: each attempt is contained with a clear result, and the
host side shows no harm (no file made, no connection accepted, no process left, memory fine).

Under bubblewrap every escape is stopped. The fallback (no namespaces) stops the limit-based
ones and what file permissions stop; ``test_fallback_*`` at the end pin down what it does NOT
stop, as documented in agent_runner.sandbox.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agent_runner.sandbox import Sandbox, SandboxLimits
from tests.sandbox.conftest import (
    PRINT_RUN,
    SHORT,
    Listener,
    live_processes,
    own_rss_bytes,
    run_id,
)

TRY_READ = """
import sys
for path in sys.argv[1:] or PATHS:
    try:
        with open(path) as file:
            print("READ", path, file.read(), flush=True)
    except OSError as exc:
        print("blocked", path, type(exc).__name__)
"""


def reader(*paths: str | Path) -> str:
    return f"PATHS = {[str(p) for p in paths]!r}\n{TRY_READ}"


# -- reading the host's secrets --------------------------------------------------------


async def test_etc_shadow_cannot_be_read(sandbox: Sandbox) -> None:
    result = await sandbox.run_python(reader("/etc/shadow", "/etc/gshadow"))
    assert result.ok, result.stderr
    assert "READ" not in result.stdout
    expected = "FileNotFoundError" if sandbox.isolation == "bubblewrap" else "PermissionError"
    assert f"blocked /etc/shadow {expected}" in result.stdout


async def test_the_projects_env_file_is_not_visible(bubblewrap: Sandbox, project: Path) -> None:
    secret = (project / ".env").read_text().strip().split("=", 1)[1]
    paths = [project / ".env", Path.cwd() / ".env", Path.home() / ".bash_history"]
    result = await bubblewrap.run_python(reader(*paths) + "import os\nprint(os.listdir('/'))\n")
    assert result.ok, result.stderr
    leaked = secret in result.stdout
    assert not leaked, "the sandbox read the project's .env"
    assert f"blocked {project / '.env'} FileNotFoundError" in result.stdout
    visible = set(eval(result.stdout.strip().splitlines()[-1]))  # the sandbox's own listing
    assert not visible & {"work", "root", "home", "var", "run", "srv", "opt", "mnt"}


async def test_the_hosts_environment_is_not_passed(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-host-secret-not-for-sandboxes")
    result = await sandbox.run_python("import os\nprint(sorted(os.environ))")
    assert result.ok, result.stderr
    assert "OPENAI_API_KEY" not in result.stdout
    assert "sk-host-secret" not in result.stdout


# -- network ----------------------------------------------------------------------------

CONNECT = """
import socket, sys
for port in sys.argv[1:] or PORTS:
    try:
        socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()
        print("CONNECTED", port)
    except OSError as exc:
        print("blocked", port, type(exc).__name__)
"""


async def test_no_network_not_even_the_hosts_loopback(
    bubblewrap: Sandbox, listener: Listener
) -> None:
    result = await bubblewrap.run_python(f"PORTS = [6379, {listener.port}]\n{CONNECT}")
    assert result.ok, result.stderr
    assert "CONNECTED" not in result.stdout
    assert "blocked 6379 ConnectionRefusedError" in result.stdout  # its own empty loopback
    assert f"blocked {listener.port} ConnectionRefusedError" in result.stdout
    assert listener.accepted == 0  # the host side saw nothing


# -- writing outside ---------------------------------------------------------------------

WRITE = """
import sys
for path in PATHS:
    try:
        with open(path, "w") as file:
            file.write("escaped")
        print("WROTE", path)
    except OSError as exc:
        print("blocked", path, type(exc).__name__)
"""


async def test_nothing_is_written_outside_the_sandbox(bubblewrap: Sandbox, project: Path) -> None:
    open_dir = project / "world-writable"
    open_dir.mkdir()
    open_dir.chmod(0o1777)
    targets = [
        open_dir / "escaped.txt",
        project / "escaped.txt",
        Path("/usr/escaped.txt"),
        Path("/etc/escaped.txt"),
        Path("/var/tmp") / f"escaped-{project.name}.txt",
        Path("/escaped.txt"),
    ]
    result = await bubblewrap.run_python(f"PATHS = {[str(t) for t in targets]!r}\n{WRITE}")
    assert result.ok, result.stderr
    assert "WROTE" not in result.stdout
    for target in targets:
        assert not target.exists(), f"{target} was created on the host"


# -- resources -------------------------------------------------------------------------------


async def test_a_fork_bomb_is_capped_and_every_process_killed(sandbox: Sandbox) -> None:
    code = (
        PRINT_RUN + "while True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    result = await sandbox.run_python(code, limits=SandboxLimits(wall_time=1.0))
    assert result.limit == "wall_time"  # it kept trying within its process limit
    assert result.signal == 9
    assert live_processes(run_id(result.stdout)) == []


async def test_a_fork_bomb_that_gives_up_reports_the_process_limit(sandbox: Sandbox) -> None:
    result = await sandbox.run_python(PRINT_RUN + "while True:\n    os.fork()\n")
    assert "processes" in result.limits
    assert "BlockingIOError" in result.stderr
    assert live_processes(run_id(result.stdout)) == []


async def test_allocating_10_gb_fails_inside_and_leaves_the_host_alone(sandbox: Sandbox) -> None:
    before = own_rss_bytes()
    result = await sandbox.run_python("data = bytearray(10 * 1024 ** 3)\nprint('allocated')")
    assert result.limits == ("memory",)
    assert result.exit_code == 1 and "MemoryError" in result.stderr
    assert "allocated" not in result.stdout
    assert own_rss_bytes() - before < 64 * 1024 * 1024


async def test_a_busy_loop_is_stopped_by_the_cpu_limit(sandbox: Sandbox) -> None:
    limits = SandboxLimits(wall_time=10.0, cpu_time=0.5)
    result = await sandbox.run_python(PRINT_RUN + "while True:\n    pass\n", limits=limits)
    assert result.limit == "cpu_time"
    assert result.status == "killed by SIGXCPU"
    assert live_processes(run_id(result.stdout)) == []


async def test_a_sleeping_loop_is_stopped_by_the_wall_time(sandbox: Sandbox) -> None:
    code = PRINT_RUN + "import time\nwhile True:\n    time.sleep(1)\n"
    result = await sandbox.run_python(code, limits=SandboxLimits(wall_time=1.0))
    assert result.limit == "wall_time" and result.status == "killed by SIGKILL"
    assert live_processes(run_id(result.stdout)) == []


async def test_printing_1_gb_is_cut_at_the_output_limit(sandbox: Sandbox) -> None:
    before = own_rss_bytes()
    code = PRINT_RUN + (
        "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n"
    )
    result = await sandbox.run_python(code)
    assert result.limit == "output"
    assert len(result.stdout.encode()) < SHORT.output_bytes + 100
    assert result.stdout.endswith("[... output cut at 65536 bytes: the output limit]")
    assert live_processes(run_id(result.stdout)) == []
    assert own_rss_bytes() - before < 64 * 1024 * 1024


async def test_a_detached_child_does_not_outlive_the_run(sandbox: Sandbox) -> None:
    code = PRINT_RUN + (
        "import subprocess\n"
        "subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
        "subprocess.Popen(['sh', '-c', 'sleep 300 &'])\n"
    )
    result = await sandbox.run_python(code)
    assert result.ok, result.stderr
    assert live_processes(run_id(result.stdout)) == []


async def test_filling_the_disk_is_stopped(sandbox: Sandbox) -> None:
    limits = SandboxLimits(wall_time=10.0, file_bytes=1024 * 1024, disk_bytes=4 * 1024 * 1024)
    code = (
        "chunk = b'x' * 65536\nfor n in range(10_000):\n"
        "    with open(f'f{n}', 'wb') as file:\n"
        "        for _ in range(16):\n            file.write(chunk)\n"
    )
    result = await sandbox.run_python(code, limits=limits)
    assert result.limit == "disk"
    assert sum(f.size for f in result.files) + result.files_omitted >= 0


async def test_one_big_file_hits_the_file_size_limit(sandbox: Sandbox) -> None:
    limits = SandboxLimits(file_bytes=1024 * 1024)
    code = "with open('big', 'wb') as file:\n    file.write(b'x' * (2 * 1024 * 1024))\n"
    result = await sandbox.run_python(code, limits=limits)
    assert result.limits == ("file_size",)
    assert "File too large" in result.stderr
    assert [(f.path, f.size) for f in result.files] == [("big", 1024 * 1024)]


# -- what the fallback does NOT stop (documented weaknesses) ----------------------------------


async def test_fallback_does_not_hide_readable_files(fallback: Sandbox, project: Path) -> None:
    result = await fallback.run_python(reader(project / ".env"))
    assert f"READ {project / '.env'}" in result.stdout


async def test_fallback_does_not_stop_the_network(fallback: Sandbox, listener: Listener) -> None:
    result = await fallback.run_python(f"PORTS = [{listener.port}]\n{CONNECT}")
    assert f"CONNECTED {listener.port}" in result.stdout
    assert listener.accepted == 1


async def test_fallback_does_not_stop_writes_where_its_user_may_write(
    fallback: Sandbox, project: Path
) -> None:
    open_dir = project / "world-writable"
    open_dir.mkdir()
    open_dir.chmod(0o1777)
    target = open_dir / "escaped.txt"
    result = await fallback.run_python(f"PATHS = [{str(target)!r}]\n{WRITE}")
    assert f"WROTE {target}" in result.stdout
    assert target.read_text() == "escaped"
    assert stat.S_IMODE(open_dir.stat().st_mode) == 0o1777
    if os.geteuid() == 0:  # as root, the fallback runs as nobody: the project stays closed
        result = await fallback.run_python(f"PATHS = [{str(project / 'x')!r}]\n{WRITE}")
        assert "PermissionError" in result.stdout and not (project / "x").exists()
