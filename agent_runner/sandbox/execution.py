"""Running one sandboxed process on the event loop: output caps, wall time, disk watch, kill.

:func:`execute` starts the command (bubblewrap or the launcher directly) in a new session,
feeds its stdin, keeps the first ``output_bytes`` of stdout and of stderr, watches the run's
dirs for ``disk_bytes``, and on any stop (a limit, cancellation, an error) kills every process
of the run (:func:`~agent_runner.sandbox.processes.kill_run`, in a thread). Nothing blocks the
event loop: the process is an asyncio subprocess, ``/proc`` and the disk are read in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_runner.sandbox.limits import Limit, SandboxLimits
from agent_runner.sandbox.processes import kill_run
from agent_runner.sandbox.workdir import RunDir

_CHUNK = 64 * 1024
_DISK_POLL = 0.2
_DRAIN_AFTER_EXIT = 2.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What :func:`execute` saw: raw output, how it ended, why the host stopped it."""

    stdout: bytes
    stderr: bytes
    stdout_cut: bool
    stderr_cut: bool
    exit_code: int | None
    signal: int | None
    stopped: Limit | None
    report: Mapping[str, Any] | None
    duration: float


class _Capture:
    """Keeps the first ``limit`` bytes of a stream; reads (and drops) the rest until EOF."""

    def __init__(self, limit: int, on_overflow: Callable[[], None]) -> None:
        self.data = bytearray()
        self.cut = False
        self._limit = limit
        self._on_overflow = on_overflow

    async def pump(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(_CHUNK):
            room = self._limit - len(self.data)
            if len(chunk) > room:
                self.data += chunk[: max(room, 0)]
                if not self.cut:
                    self.cut = True
                    self._on_overflow()
            else:
                self.data += chunk


async def execute(
    command: Callable[[int], Sequence[str]],
    *,
    env: Mapping[str, str],
    cwd: str,
    stdin: bytes,
    user: tuple[int, int] | None,
    limits: SandboxLimits,
    run_dir: RunDir,
    run_id: str,
) -> Outcome:
    """Run ``command(status_fd)`` (the argv, given the fd the launcher reports on) to its end
    or its first limit, and kill whatever it left.

    Args:
        command: builds the argv from the status pipe's fd number.
        env: the environment of the started process.
        cwd: its working directory.
        stdin: bytes written to its stdin (then closed).
        user: ``(uid, gid)`` to run as (only as root), or None for ours.
        limits: ``wall_time``, ``output_bytes`` and ``disk_bytes`` are enforced here.
        run_dir: the run's dirs (watched for ``disk_bytes``).
        run_id: the run's marker value (see :mod:`~agent_runner.sandbox.processes`).
    """
    status_r, status_w = os.pipe()
    os.set_blocking(status_r, False)
    drop: dict[str, Any] = {}
    if user is not None:
        drop = {"user": user[0], "group": user[1], "extra_groups": []}
    started = time.monotonic()
    spawning = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *command(status_w),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            pass_fds=(status_w,),
            start_new_session=True,
            env=dict(env),
            cwd=cwd,
            **drop,
        )
    )
    cancelled = False
    try:
        # Shielded: cancelled while the process starts, we still get it, to kill it.
        try:
            process = await asyncio.shield(spawning)
        except asyncio.CancelledError:
            cancelled = True
            await asyncio.wait({spawning})
            process = spawning.result()  # the spawn's own error, if it failed
        finally:
            os.close(status_w)
        supervisor = _Supervisor(process, limits, run_dir, run_id, status_r)
        await supervisor.run(stdin, stop_at_once=cancelled)
    finally:
        os.close(status_r)
    if cancelled:
        raise asyncio.CancelledError
    exit_code, sig = _how_it_ended(process.returncode, supervisor.report)
    return Outcome(
        stdout=bytes(supervisor.out.data),
        stderr=bytes(supervisor.err.data),
        stdout_cut=supervisor.out.cut,
        stderr_cut=supervisor.err.cut,
        exit_code=exit_code,
        signal=sig,
        stopped=supervisor.stopped,
        report=supervisor.report,
        duration=time.monotonic() - started,
    )


class _Supervisor:
    """Watches one started run to its end or its first limit, then kills what is left."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        limits: SandboxLimits,
        run_dir: RunDir,
        run_id: str,
        status_fd: int,
    ) -> None:
        self.process = process
        self.limits = limits
        self.run_dir = run_dir
        self.run_id = run_id
        self.status_fd = status_fd
        self.stopped: Limit | None = None
        self.report: dict[str, Any] | None = None
        self._stop = asyncio.Event()
        self.out = _Capture(limits.output_bytes, lambda: self.stop_for("output"))
        self.err = _Capture(limits.output_bytes, lambda: self.stop_for("output"))

    def stop_for(self, reason: Limit) -> None:
        if self.stopped is None:
            self.stopped = reason
        self._stop.set()

    async def run(self, stdin: bytes, *, stop_at_once: bool) -> None:
        process = self.process
        assert process.stdin is not None and process.stdout is not None
        assert process.stderr is not None
        tasks = [
            asyncio.create_task(_feed(process.stdin, b"" if stop_at_once else stdin)),
            asyncio.create_task(
                _watch_disk(self.run_dir, self.limits.disk_bytes, lambda: self.stop_for("disk"))
            ),
        ]
        pumps = asyncio.gather(self.out.pump(process.stdout), self.err.pump(process.stderr))
        waiter = asyncio.ensure_future(process.wait())
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            if not stop_at_once:
                try:
                    async with asyncio.timeout(self.limits.wall_time):
                        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                except TimeoutError:
                    self.stop_for("wall_time")
        finally:
            # Always: end every process of the run (a normal exit may leave background
            # children in the fallback), even when cancelled (shielded: the kill must finish).
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            await asyncio.shield(
                asyncio.to_thread(kill_run, process.pid, run_id=self.run_id, uid=self.run_dir.uid)
            )
            stopper.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.shield(asyncio.gather(waiter, stopper, *tasks, return_exceptions=True))
            process.stdin.close()
            try:
                await asyncio.wait_for(asyncio.shield(pumps), _DRAIN_AFTER_EXIT)
            except TimeoutError:  # something outside the tree holds the pipes (the fallback)
                pumps.cancel()
                await asyncio.gather(pumps, return_exceptions=True)
            self.report = _read_report(self.status_fd)


async def _feed(pipe: asyncio.StreamWriter, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        if data:
            pipe.write(data)
            await pipe.drain()
        pipe.close()
        await pipe.wait_closed()


async def _watch_disk(run_dir: RunDir, limit: int, on_overflow: Callable[[], None]) -> None:
    while True:
        await asyncio.sleep(_DISK_POLL)
        if await asyncio.to_thread(run_dir.size) > limit:
            on_overflow()
            return


def _read_report(fd: int) -> dict[str, Any] | None:
    """The launcher's JSON report, or None (killed first, or nothing readable yet)."""
    try:
        raw = os.read(fd, 65536)
    except (BlockingIOError, OSError):
        return None
    try:
        report = json.loads(raw)
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def _how_it_ended(
    returncode: int | None, report: Mapping[str, Any] | None
) -> tuple[int | None, int | None]:
    """(exit code, signal) of the command: from the launcher's report, else from the process
    we started (killed by us: SIGKILL)."""
    if report is not None:
        code, sig = report.get("exit_code"), report.get("signal")
        return (code if isinstance(code, int) else None, sig if isinstance(sig, int) else None)
    if returncode is None or returncode < 0:
        return None, -returncode if returncode is not None else signal.SIGKILL
    return returncode, None


__all__ = ["Outcome", "execute"]
