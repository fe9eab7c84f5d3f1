"""Fault injection for crash tests: named checkpoints on the send path, SIGKILL at the n-th.

A runner started with ``AGENT_RUNNER_KILL_AT=<point>:<n>`` in its environment kills itself
with SIGKILL (no cleanup, no flush: as a power cut or the OOM killer would) the n-th time it
reaches checkpoint ``<point>``; ``*`` counts every point. The points, in send order:

==============  ===========================================================================
``claimed``     the reply is in the ledger (claimed or resumed), nothing sent yet
``part``        a part reached the platform; the ledger does not know it yet
``recorded``    a delivered part is recorded in the ledger
``sent``        the output returned; the reply's outcome is not recorded yet
==============  ===========================================================================

Without the variable (always, outside tests) a checkpoint is one comparison. The crash
tests (``tests/runner/test_ledger_crash.py``) and ``bench/bench_delivery.py`` use it.
"""

from __future__ import annotations

import os
import signal

KILL_AT_ENV = "AGENT_RUNNER_KILL_AT"
POINTS = ("claimed", "part", "recorded", "sent")


def _parse(spec: str | None) -> tuple[str, int] | None:
    if not spec:
        return None
    point, _, count = spec.rpartition(":")
    if point not in (*POINTS, "*") or not count.isdigit() or int(count) < 1:
        raise ValueError(f"{KILL_AT_ENV}={spec!r}: expected <point>:<n> with point in {POINTS}")
    return point, int(count)


_target = _parse(os.environ.get(KILL_AT_ENV))
_reached = 0


def checkpoint(point: str) -> None:
    """Mark ``point`` on the send path; SIGKILL this process when it is the configured one."""
    global _reached
    if _target is None or _target[0] not in (point, "*"):
        return
    _reached += 1
    if _reached == _target[1]:
        os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["KILL_AT_ENV", "POINTS", "checkpoint"]
