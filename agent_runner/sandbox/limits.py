"""What one sandboxed run may use: time, memory, processes, output, disk.

Every limit is enforced for the whole run; which one stopped it is in
:attr:`~agent_runner.sandbox.SandboxResult.limits`. How each is enforced:

================  =====================================================================
``wall_time``     the host kills the whole process tree after ``wall_time`` seconds
``cpu_time``      ``RLIMIT_CPU`` per process (SIGXCPU, then SIGKILL a second later)
``memory``        ``RLIMIT_AS`` per process: allocations past it fail (``MemoryError``)
``processes``     ``RLIMIT_NPROC``: tasks (processes and threads) of the sandbox's user;
                  under bubblewrap counted in the sandbox's own user namespace
``output``        the host stops the run when stdout or stderr passes ``output_bytes``
``file_size``     ``RLIMIT_FSIZE``: no file written may grow past ``file_bytes``
``disk``          the host stops the run when the work and temp dirs pass ``disk_bytes``
================  =====================================================================

Memory and CPU limits are per process, so a run can use up to ``processes`` times them in
all; keep ``processes`` small (the default allows a few helper processes, not a pool).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

Limit = Literal["wall_time", "cpu_time", "memory", "processes", "output", "file_size", "disk"]
"""A limit a run can hit (see the module docstring)."""

_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """The limits of one sandboxed run (all must be positive).

    Attributes:
        wall_time: seconds from start to kill.
        cpu_time: CPU seconds per process (rounded up to whole seconds).
        memory_bytes: address space per process.
        processes: tasks (processes and threads) the run may have at once.
        output_bytes: bytes kept of stdout and of stderr each; more stops the run.
        file_bytes: the largest file the run may write.
        disk_bytes: bytes the work and temp dirs may hold together.
        open_files: file descriptors per process.
        returned_file_bytes: bytes of file contents returned in the result, all files
            together (the sizes of every file are returned regardless).
        returned_files: most files listed in the result.

    Example:
        >>> SandboxLimits(wall_time=2.0, memory_bytes=256 * 1024 * 1024).cpu_seconds
        5
    """

    wall_time: float = 10.0
    cpu_time: float = 5.0
    memory_bytes: int = 512 * _MIB
    processes: int = 16
    output_bytes: int = 64 * 1024
    file_bytes: int = 16 * _MIB
    disk_bytes: int = 64 * _MIB
    open_files: int = 256
    returned_file_bytes: int = 64 * 1024
    returned_files: int = 50

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not value > 0:
                raise ValueError(f"SandboxLimits.{item.name} must be positive, not {value!r}")

    @property
    def cpu_seconds(self) -> int:
        """``cpu_time`` as the whole seconds ``RLIMIT_CPU`` takes (at least 1)."""
        return max(1, math.ceil(self.cpu_time))


__all__ = ["Limit", "SandboxLimits"]
