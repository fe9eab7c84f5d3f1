"""The sandbox's results, options and lifecycle (real processes, bubblewrap and fallback)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agent_runner.sandbox import Sandbox, SandboxError, SandboxLimits
from agent_runner.sandbox.bubblewrap import bubblewrap_command, system_mounts
from tests.sandbox.conftest import PRINT_RUN, live_processes, marked_runs, run_id


async def test_output_exit_status_and_files(sandbox: Sandbox) -> None:
    code = (
        "import os, sys\n"
        "print('hello', os.getcwd() == os.environ['HOME'])\n"
        "print('careful', file=sys.stderr)\n"
        "os.makedirs('out')\n"
        "open('out/data.csv', 'w').write('a,b\\n1,2\\n')\n"
        "open('blob.bin', 'wb').write(bytes(range(256)))\n"
        "sys.exit(3)\n"
    )
    result = await sandbox.run_python(code)
    assert (result.stdout, result.stderr) == ("hello True\n", "careful\n")
    assert result.exit_code == 3 and result.signal is None and result.limits == ()
    assert not result.ok and result.status == "exit status 3"
    assert result.isolation == sandbox.isolation
    files = {f.path: f for f in result.files}
    assert sorted(files) == ["blob.bin", "out/data.csv"]
    assert files["out/data.csv"].text == "a,b\n1,2\n" and files["out/data.csv"].complete
    assert files["blob.bin"].size == 256 and files["blob.bin"].text is None
    text = result.for_model()
    assert "exit status 3" in text and "out/data.csv (8 bytes):\na,b" in text
    assert "blob.bin (256 bytes, binary)" in text


async def test_a_traceback_names_the_snippet_line(sandbox: Sandbox) -> None:
    result = await sandbox.run_python("x = 1\n1 / 0\n")
    assert result.exit_code == 1 and result.limits == ()
    assert 'File "<stdin>", line 2' in result.stderr and "ZeroDivisionError" in result.stderr


async def test_returned_files_stay_within_their_budget(sandbox: Sandbox) -> None:
    limits = SandboxLimits(returned_files=3, returned_file_bytes=100)
    code = "for n in range(5):\n    open(f'f{n}.txt', 'w').write(str(n) * 60)\n"
    result = await sandbox.run_python(code, limits=limits)
    assert [f.path for f in result.files] == ["f0.txt", "f1.txt", "f2.txt"]
    assert [len(f.content) for f in result.files] == [60, 40, 0]
    assert [f.size for f in result.files] == [60, 60, 60]
    assert result.files_omitted == 2
    assert "... and 2 more files" in result.for_model()


async def test_links_out_of_the_work_dir_are_not_followed(sandbox: Sandbox) -> None:
    code = "import os\nos.symlink('/etc/hostname', 'link')\nos.mkfifo('fifo')\n"
    result = await sandbox.run_python(code)
    assert result.ok, result.stderr
    assert result.files == ()


async def test_shell_is_off_by_default(fallback: Sandbox) -> None:
    with pytest.raises(SandboxError, match="allow_shell"):
        await fallback.run_shell("echo hi")


async def test_shell_commands_when_allowed(bubblewrap: Sandbox) -> None:
    shell = Sandbox(isolation="bubblewrap", allow_shell=True, limits=bubblewrap.limits)
    result = await shell.run_shell("echo $((6 * 7)) > answer; cat answer; id -un; ls /")
    assert result.ok, result.stderr
    lines = result.stdout.split()
    assert lines[:2] == ["42", "sandbox"]
    assert "home" not in lines and "root" not in lines
    assert [f.path for f in result.files] == ["answer"]


async def test_cancelling_a_run_kills_it(sandbox: Sandbox) -> None:
    code = PRINT_RUN + "import time\ntime.sleep(60)\n"
    before = marked_runs()
    task = asyncio.create_task(sandbox.run_python(code, limits=SandboxLimits(wall_time=30.0)))
    run = ""
    for _ in range(500):  # until the run has started
        await asyncio.sleep(0.01)
        run = next(iter(marked_runs() - before), "")
        if run:
            break
    assert run, "the run did not start"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert live_processes(run) == []


@pytest.mark.parametrize("delay", [0.0, 0.002, 0.005, 0.01, 0.02, 0.05])
async def test_cancelling_while_it_starts_leaves_nothing(sandbox: Sandbox, delay: float) -> None:
    await sandbox.check()
    before = marked_runs()
    task = asyncio.create_task(sandbox.run_python("import time\ntime.sleep(60)\n"))
    await asyncio.sleep(delay)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert marked_runs() - before == set()


async def test_runs_at_once_are_capped(fallback: Sandbox) -> None:
    capped = Sandbox(isolation="fallback", max_concurrent=1, limits=fallback.limits)
    code = PRINT_RUN + "import time\ntime.sleep(0.3)\n"
    first, second = await asyncio.gather(capped.run_python(code), capped.run_python(code))
    assert first.ok and second.ok
    assert run_id(first.stdout) != run_id(second.stdout)


async def test_the_fallback_says_so_at_start(caplog: pytest.LogCaptureFixture) -> None:
    sandbox = Sandbox(bwrap="/nonexistent/bwrap")
    with caplog.at_level(logging.WARNING, logger="agent_runner.sandbox"):
        assert await sandbox.check() == "fallback"
        assert await sandbox.check() == "fallback"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "WEAKER fallback" in warnings[0].getMessage()
    assert "not installed" in warnings[0].getMessage()
    result = await sandbox.run_python("print('still runs')")
    assert result.stdout == "still runs\n" and result.isolation == "fallback"


async def test_requiring_bubblewrap_fails_clearly_without_it() -> None:
    with pytest.raises(SandboxError, match="not installed"):
        await Sandbox(isolation="bubblewrap", bwrap="/nonexistent/bwrap").check()


def test_the_bubblewrap_view_of_the_host() -> None:
    argv = bubblewrap_command(
        "bwrap",
        ["/usr/bin/python3", "-"],
        system=system_mounts(),
        work_dir="/host/work",
        temp_dir="/host/tmp",
        passwd="/host/passwd",
        group="/host/group",
        env={"HOME": "/sandbox"},
    )
    assert "--unshare-net" in argv and "--clearenv" in argv and "--die-with-parent" in argv
    sources = {argv[i + 1] for i, arg in enumerate(argv) if arg in ("--ro-bind", "--bind")}
    assert "/usr" in sources and "/host/work" in sources
    assert not any(s in ("/", "/etc", "/home", "/root") or "shadow" in s for s in sources)
    assert argv[argv.index("--remount-ro", argv.index("--chdir")) + 1] == "/"
    shared = bubblewrap_command(
        "bwrap",
        ["/usr/bin/true"],
        system=[],
        work_dir="/w",
        temp_dir="/t",
        passwd="/p",
        group="/g",
        env={},
        network=True,
    )
    assert "--unshare-net" not in shared and "/etc/resolv.conf" in shared


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="wall_time"):
        SandboxLimits(wall_time=0)
    assert SandboxLimits(cpu_time=0.2).cpu_seconds == 1
