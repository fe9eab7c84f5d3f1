"""The launcher: the first program of every sandboxed run, inside the sandbox.

It sets the run's resource limits on itself, starts the command as its child, waits for it
and reports how it ended (exit status or signal, CPU seconds, peak memory) as one JSON object
on a pipe only the launcher holds (the command does not inherit it). Without a pid namespace
(the fallback) it is also the run's subreaper: orphans of the command become its children,
and it kills what is left when the command ends, so a run never outlives its command.

Standalone (standard library, Python 3.8+): the host runs this file's source with the
sandbox's interpreter (``python -I -S -c SOURCE CONFIG``). CONFIG is JSON: ``argv`` (the
command), ``status_fd``, ``rlimits`` (``{"RLIMIT_AS": [soft, hard], ...}``), ``processes``
(tasks the command may add to what the user already has) and ``subreaper``.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import time

_PR_SET_CHILD_SUBREAPER = 36


def tasks_of(uid: int) -> int:
    """How many tasks (threads included, as ``RLIMIT_NPROC`` counts) ``uid`` has now."""
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as file:
                status = file.read()
        except OSError:
            continue
        fields = dict(line.split(b":", 1) for line in status.splitlines() if b":" in line)
        try:
            if int(fields[b"Uid"].split()[0]) == uid:
                count += int(fields[b"Threads"])
        except (KeyError, ValueError, IndexError):
            continue
    return count


def children_of(pid: int) -> list[int]:
    """The live children of ``pid`` (from /proc; zombies are left to the reaper)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as file:
                stat = file.read()
        except OSError:
            continue
        after_name = stat[stat.rfind(b")") + 2 :].split()
        if len(after_name) > 1 and after_name[0] != b"Z" and int(after_name[1]) == pid:
            found.append(int(name))
    return found


def reap_all() -> None:
    """Kill and reap every child left (orphans included, as the subreaper), a bounded while."""
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        for child in children_of(os.getpid()):
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            return
        time.sleep(0.01)


def main() -> int:
    config = json.loads(sys.argv[1])
    status_fd = int(config["status_fd"])
    os.set_inheritable(status_fd, False)
    for name, (soft, hard) in config["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (int(soft), int(hard)))
    processes = int(config["processes"])
    # RLIMIT_NPROC counts every task of the user (under bubblewrap: in the sandbox's own user
    # namespace), so the limit is what the user has now plus what the command may add.
    limit = processes + tasks_of(os.getuid())
    resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
    if config["subreaper"]:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    argv = [str(arg) for arg in config["argv"]]
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(argv[0], argv)
        except OSError as exc:
            os.write(2, f"sandbox: cannot run {argv[0]}: {exc.strerror}\n".encode())
        os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    exited = os.WIFEXITED(status)
    report = {
        "exit_code": os.WEXITSTATUS(status) if exited else None,
        "signal": None if exited else os.WTERMSIG(status),
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "max_rss_kib": usage.ru_maxrss,
    }
    os.write(status_fd, json.dumps(report).encode())
    os.close(status_fd)
    if config["subreaper"]:
        reap_all()
    return os.WEXITSTATUS(status) if exited else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    sys.exit(main())
