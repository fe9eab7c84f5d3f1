"""Sandbox: runs model-written Python (and, when allowed, shell commands) in a separate,
isolated, limited process.

Isolation is chosen once, at the first run (or :meth:`Sandbox.check`):

* **bubblewrap** (Debian's ``bubblewrap``): new user, pid, network, ipc and uts namespaces;
  a read-only view of ``/usr`` and a few harmless ``/etc`` entries, nothing else of the host
  (see :mod:`~agent_runner.sandbox.bubblewrap`); no network; a private work dir and ``/tmp``.
* **fallback**, when bubblewrap is missing or cannot create namespaces here: the same limits
  (:class:`SandboxLimits`), a private work and temp dir, a clean environment and, when the
  host runs as root, an unprivileged user; but **no filesystem, network or process
  isolation**: the code can read every file its user may read (world-readable files
  included), write where its user may write (``/var/tmp``, ``/dev/shm``), connect to any
  address (``127.0.0.1:6379`` included), and see and signal its user's other processes. A
  WARNING says so when it is chosen. Use it for trusted code or tests only.

Both always: a clean environment (the host's secrets are not passed), the run's processes
killed when it ends or hits a limit, its dirs removed.

When the host process is root, runs execute as ``user`` (default 65534, ``nobody``), so that
the process limit applies (the kernel exempts root) and file permissions protect the host.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import sys
import uuid
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Literal

from agent_runner.errors import SandboxError
from agent_runner.sandbox import bubblewrap
from agent_runner.sandbox.execution import Outcome, execute
from agent_runner.sandbox.limits import Limit, SandboxLimits
from agent_runner.sandbox.processes import MARKER
from agent_runner.sandbox.result import Isolation, SandboxResult
from agent_runner.sandbox.workdir import RunDir

logger = logging.getLogger("agent_runner.sandbox")

IsolationChoice = Literal["auto", "bubblewrap", "fallback"]
"""``"auto"``: bubblewrap when it works here, else the fallback with a WARNING;
``"bubblewrap"``: bubblewrap or :class:`~agent_runner.errors.SandboxError`; ``"fallback"``:
the weaker fallback, on purpose (still with the WARNING)."""

NOBODY = 65534

_INFERRED: tuple[tuple[Limit, tuple[str, ...]], ...] = (
    ("memory", ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")),
    ("processes", ("Resource temporarily unavailable", "fork: retry", "Cannot fork")),
    ("file_size", ("File too large",)),
)


@cache
def _launcher_source() -> str:
    return Path(__file__).with_name("launcher.py").read_text(encoding="utf-8")


def _default_python() -> str:
    """The system's python3 (not a virtualenv's), else this interpreter's real file."""
    found = shutil.which("python3", path="/usr/bin:/usr/local/bin:/bin")
    return found or os.path.realpath(sys.executable)


class Sandbox:
    """Runs code in an isolated, limited process; safe to share between tasks.

    Args:
        limits: the default limits of a run (each call may pass its own).
        isolation: see :data:`IsolationChoice`.
        network: give runs the host's network (bubblewrap only; the fallback always has it).
            Off by default: runs see a loopback of their own and nothing else.
        allow_shell: allow :meth:`run_shell` (off by default).
        python: the interpreter inside (default: the system's ``python3``, so runs see the
            standard library and the system's packages, not your virtualenv). Under
            bubblewrap its prefix is mounted read-only when it lives outside ``/usr``.
        read_only_paths: more host paths shown read-only (bubblewrap), e.g. a virtualenv.
        env: extra environment variables for runs (the host's are never passed).
        user: the uid and gid runs execute as when the host is root; ignored otherwise.
        max_concurrent: runs at once (more wait their turn).
        temp_dir: where runs' private dirs are made (default: the system's temp dir).
        bwrap: the bubblewrap executable.

    Example::

        sandbox = Sandbox(limits=SandboxLimits(wall_time=5))
        result = await sandbox.run_python("print(sum(range(10)))")
        assert result.stdout == "45\\n" and result.ok
    """

    def __init__(
        self,
        *,
        limits: SandboxLimits | None = None,
        isolation: IsolationChoice = "auto",
        network: bool = False,
        allow_shell: bool = False,
        python: str | None = None,
        read_only_paths: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        user: int = NOBODY,
        max_concurrent: int = 4,
        temp_dir: str | None = None,
        bwrap: str = "bwrap",
    ) -> None:
        if isolation not in ("auto", "bubblewrap", "fallback"):
            raise ValueError(f"isolation must be auto, bubblewrap or fallback, not {isolation!r}")
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be >= 1")
        self.limits = limits or SandboxLimits()
        self.isolation_choice: IsolationChoice = isolation
        self.network = network
        self.allow_shell = allow_shell
        self.python = python or _default_python()
        self.read_only_paths = tuple(read_only_paths)
        self.env = dict(env or {})
        self._root = os.geteuid() == 0
        self.uid = user if self._root else os.getuid()
        self.gid = user if self._root else os.getgid()
        self._temp_dir = temp_dir
        self._bwrap = bwrap
        self._slots = asyncio.Semaphore(max_concurrent)
        self._check_lock = asyncio.Lock()
        self._isolation: Isolation | None = None
        self._system_mounts: list[str] = []
        self._disable_userns = False
        self._sized_tmpfs = False

    @property
    def isolation(self) -> Isolation | None:
        """The isolation in use, or None before the first run / :meth:`check`."""
        return self._isolation

    async def check(self) -> Isolation:
        """Choose the isolation (once): probe bubblewrap with a real run, log a WARNING when
        the weaker fallback is used. Raises SandboxError when bubblewrap is required and
        does not work."""
        async with self._check_lock:
            if self._isolation is None:
                self._isolation = await self._choose()
            return self._isolation

    async def run_python(self, code: str, *, limits: SandboxLimits | None = None) -> SandboxResult:
        """Run a Python snippet (given on stdin, so tracebacks say ``<stdin>``).

        Args:
            code: the program.
            limits: this run's limits (default: the sandbox's).
        """
        return await self._run([self.python, "-"], code.encode(), limits)

    async def run_shell(
        self, command: str, *, limits: SandboxLimits | None = None
    ) -> SandboxResult:
        """Run a ``/bin/sh -c`` command; only with ``allow_shell=True``."""
        if not self.allow_shell:
            raise SandboxError("shell commands are off for this sandbox (allow_shell=False)")
        return await self._run(["/bin/sh", "-c", command], b"", limits)

    async def _choose(self) -> Isolation:
        if self.isolation_choice == "fallback":
            _warn_fallback("the fallback was chosen (isolation='fallback')")
            return "fallback"
        reason = await self._probe_bubblewrap()
        if reason is None:
            return "bubblewrap"
        if self.isolation_choice == "bubblewrap":
            raise SandboxError(f"bubblewrap does not work here: {reason}")
        _warn_fallback(reason)
        return "fallback"

    async def _probe_bubblewrap(self) -> str | None:
        """None when a real run under bubblewrap works, else why not."""
        bwrap = shutil.which(self._bwrap)
        if bwrap is None:
            return f"{self._bwrap} is not installed (apt-get install bubblewrap)"
        self._bwrap = bwrap
        self._system_mounts = await asyncio.to_thread(bubblewrap.system_mounts)
        try:
            helper = await asyncio.create_subprocess_exec(
                bwrap,
                "--help",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            async with asyncio.timeout(10):
                text, _ = await helper.communicate()
        except (OSError, TimeoutError) as exc:
            return f"{bwrap} --help failed: {exc}"
        self._disable_userns = b"--disable-userns" in text
        self._sized_tmpfs = b"--size" in text
        probe = SandboxLimits(wall_time=10.0, output_bytes=4096)
        result = await self._execute([self.python, "-c", "pass"], b"", probe, "bubblewrap")
        if result.exit_code == 0:
            return None
        detail = (result.stderr.strip().splitlines() or [result.status])[-1]
        return f"bubblewrap cannot start a sandbox here ({detail})"

    async def _run(
        self, command: list[str], stdin: bytes, limits: SandboxLimits | None
    ) -> SandboxResult:
        isolation = await self.check()
        async with self._slots:
            return await self._execute(command, stdin, limits or self.limits, isolation)

    async def _execute(
        self, command: list[str], stdin: bytes, limits: SandboxLimits, isolation: Isolation
    ) -> SandboxResult:
        run_id = uuid.uuid4().hex
        run_dir = await asyncio.to_thread(
            RunDir.create, parent=self._temp_dir, uid=self.uid, gid=self.gid
        )
        try:
            outcome = await self._spawn(command, stdin, limits, isolation, run_dir, run_id)
            files, omitted = await asyncio.to_thread(
                run_dir.files,
                max_files=limits.returned_files,
                max_bytes=limits.returned_file_bytes,
            )
        finally:
            await asyncio.shield(asyncio.to_thread(run_dir.remove))
        return SandboxResult(
            stdout=_text(outcome.stdout, outcome.stdout_cut, limits),
            stderr=_text(outcome.stderr, outcome.stderr_cut, limits),
            exit_code=outcome.exit_code,
            signal=outcome.signal,
            limits=_limits_hit(outcome, limits),
            files=tuple(files),
            files_omitted=omitted,
            duration=outcome.duration,
            isolation=isolation,
        )

    async def _spawn(
        self,
        command: list[str],
        stdin: bytes,
        limits: SandboxLimits,
        isolation: Isolation,
        run_dir: RunDir,
        run_id: str,
    ) -> Outcome:
        bubble = isolation == "bubblewrap"
        inside_work = bubblewrap.WORK_DIR if bubble else str(run_dir.work)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": inside_work,
            "TMPDIR": bubblewrap.TEMP_DIR if bubble else str(run_dir.tmp),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            **self.env,
            MARKER: run_id,
        }

        def argv(status_fd: int) -> list[str]:
            launcher = [
                self.python,
                "-I",
                "-S",
                "-c",
                _launcher_source(),
                _launcher_config(command, status_fd, limits, subreaper=not bubble),
            ]
            if not bubble:
                return launcher
            return bubblewrap.bubblewrap_command(
                self._bwrap,
                launcher,
                system=self._system_mounts,
                work_dir=str(run_dir.work),
                temp_dir=str(run_dir.tmp),
                passwd=str(run_dir.passwd),
                group=str(run_dir.group),
                env=env,
                read_only=[*bubblewrap.interpreter_mounts(self.python), *self.read_only_paths],
                network=self.network,
                disable_userns=self._disable_userns,
                shm_bytes=limits.disk_bytes if self._sized_tmpfs else None,
            )

        return await execute(
            argv,
            env=env if not bubble else {"PATH": env["PATH"], MARKER: run_id},
            cwd=str(run_dir.work),
            stdin=stdin,
            user=(self.uid, self.gid) if self._root else None,
            limits=limits,
            run_dir=run_dir,
            run_id=run_id,
        )


def _launcher_config(
    command: Sequence[str], status_fd: int, limits: SandboxLimits, *, subreaper: bool
) -> str:
    cpu = limits.cpu_seconds
    rlimits = {
        "RLIMIT_CPU": [cpu, cpu + 1],
        "RLIMIT_AS": [limits.memory_bytes, limits.memory_bytes],
        "RLIMIT_FSIZE": [limits.file_bytes, limits.file_bytes],
        "RLIMIT_NOFILE": [limits.open_files, limits.open_files],
        "RLIMIT_CORE": [0, 0],
    }
    return json.dumps(
        {
            "argv": list(command),
            "status_fd": status_fd,
            "rlimits": rlimits,
            "processes": limits.processes,
            "subreaper": subreaper,
        }
    )


def _text(data: bytes, cut: bool, limits: SandboxLimits) -> str:
    text = data.decode("utf-8", errors="replace")
    if cut:
        text += f"\n[... output cut at {limits.output_bytes} bytes: the output limit]"
    return text


def _limits_hit(outcome: Outcome, limits: SandboxLimits) -> tuple[Limit, ...]:
    """Every limit the run hit, the one that stopped it first (see SandboxResult.limits)."""
    hit: list[Limit] = [outcome.stopped] if outcome.stopped else []
    if outcome.signal == signal.SIGXCPU:
        hit.append("cpu_time")
    elif outcome.signal == signal.SIGXFSZ:
        hit.append("file_size")
    elif outcome.signal == signal.SIGKILL and outcome.stopped is None and outcome.report:
        used = outcome.report.get("cpu_seconds")
        if isinstance(used, int | float) and used >= limits.cpu_seconds:
            hit.append("cpu_time")  # SIGXCPU ignored: the hard limit's SIGKILL
    if outcome.exit_code != 0:
        tail = outcome.stderr[-4096:].decode("utf-8", errors="replace")
        hit.extend(limit for limit, needles in _INFERRED if any(n in tail for n in needles))
    return tuple(dict.fromkeys(hit))


def _warn_fallback(reason: str) -> None:
    logger.warning(
        "sandbox: %s; running code in the WEAKER fallback: resource limits, a private temp "
        "dir and a clean environment only, NO filesystem, network or process isolation "
        "(the code can read what its user can read and connect anywhere)",
        reason,
    )


__all__ = ["NOBODY", "IsolationChoice", "Sandbox"]
