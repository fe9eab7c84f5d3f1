"""Finding and killing every process of a run, on the host side (Linux ``/proc``).

A run's processes are found three ways, so that a process that left the tree is still found:
descendants of the run's first process, members of its session (the host starts the run in
a new session), and processes whose environment carries the run's marker
(``AGENT_RUNNER_SANDBOX=<run id>``, set for every run). :func:`kill_run` kills them all with
SIGKILL, round after round, until none is left: a fork bomb's new children are found in the
next round (their number is capped by the process limit).

Without ``/proc`` (not Linux) only the process group is killed.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

MARKER = "AGENT_RUNNER_SANDBOX"
"""The environment variable holding a run's id in each of its processes."""

_PROC = "/proc"


@dataclass(frozen=True, slots=True)
class _Task:
    pid: int
    ppid: int
    session: int
    uid: int


def _tasks() -> list[_Task]:
    """Every live (not zombie) process on the host."""
    found: list[_Task] = []
    for name in os.listdir(_PROC):
        if not name.isdigit():
            continue
        try:
            with open(f"{_PROC}/{name}/stat", "rb") as file:
                stat = file.read()
            uid = os.stat(f"{_PROC}/{name}").st_uid
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) < 4 or fields[0] in (b"Z", b"X"):
            continue
        found.append(_Task(int(name), int(fields[1]), int(fields[3]), uid))
    return found


def _has_marker(pid: int, marker: bytes) -> bool:
    try:
        with open(f"{_PROC}/{pid}/environ", "rb") as file:
            return marker in file.read().split(b"\0")
    except OSError:
        return False


def run_processes(root: int, *, run_id: str, uid: int) -> set[int]:
    """The live processes of a run: ``root``'s descendants, ``root``'s session, and the
    processes of ``uid`` marked with ``run_id``."""
    marker = f"{MARKER}={run_id}".encode()
    me = os.getpid()
    tasks = _tasks()
    children: dict[int, list[int]] = {}
    for task in tasks:
        children.setdefault(task.ppid, []).append(task.pid)
    found: set[int] = set()
    stack = [root]
    while stack:
        pid = stack.pop()
        for child in children.get(pid, ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    alive = {task.pid for task in tasks}
    if root in alive:
        found.add(root)
    for task in tasks:
        if task.pid in found or task.pid == me:
            continue
        if task.session == root or (task.uid == uid and _has_marker(task.pid, marker)):
            found.add(task.pid)
    found.discard(me)
    return found


def kill_run(root: int, *, run_id: str, uid: int, rounds: int = 100) -> int:
    """SIGKILL every process of a run until none is left; return how many were killed.

    Blocking (it reads ``/proc`` and sleeps 10 ms between rounds): call it in a thread.
    Gives up after ``rounds`` rounds (a second or so), which only a process that escapes
    the tree, the session and the marker together (the fallback) could outlast.
    """
    if not os.path.isdir(_PROC):
        try:
            os.killpg(root, signal.SIGKILL)
        except OSError:
            pass
        return 0
    killed: set[int] = set()
    for _ in range(rounds):
        victims = run_processes(root, run_id=run_id, uid=uid)
        if not victims:
            break
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except OSError:
                pass
        time.sleep(0.01)
    return len(killed)


__all__ = ["MARKER", "kill_run", "run_processes"]
