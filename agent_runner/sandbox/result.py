"""What a sandboxed run returns: its output, how it ended, which limit stopped it, its files."""

from __future__ import annotations

import signal as signals
from dataclasses import dataclass
from typing import Literal

from agent_runner.sandbox.limits import Limit

Isolation = Literal["bubblewrap", "fallback"]
"""How a run was isolated: ``"bubblewrap"`` (namespaces: own filesystem view, no network, own
process tree) or ``"fallback"`` (resource limits and a private temp dir only)."""

_LIMIT_TEXT: dict[Limit, str] = {
    "wall_time": "stopped: it ran past the wall-time limit",
    "cpu_time": "stopped: it used up its CPU time",
    "memory": "it ran out of memory (the memory limit)",
    "processes": "it could not start more processes (the process limit)",
    "output": "stopped: it printed more than the output limit",
    "file_size": "a file reached the file-size limit",
    "disk": "stopped: its files passed the disk limit",
}


@dataclass(frozen=True, slots=True)
class SandboxFile:
    """A file the run left in its work dir.

    Attributes:
        path: the path relative to the work dir (``/`` separated).
        size: its size in bytes.
        content: its first bytes, within the run's ``returned_file_bytes`` budget.
    """

    path: str
    size: int
    content: bytes

    @property
    def complete(self) -> bool:
        """Whether :attr:`content` holds the whole file."""
        return len(self.content) == self.size

    @property
    def text(self) -> str | None:
        """:attr:`content` as UTF-8 text, or None when it is binary."""
        try:
            return self.content.decode()
        except UnicodeDecodeError as exc:
            if not self.complete and exc.start >= len(self.content) - 3:  # cut in a character
                return self.content[: exc.start].decode()
            return None


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """How a sandboxed run ended.

    Attributes:
        stdout: what it printed, cut with a marker past the output limit.
        stderr: its error output, cut the same way.
        exit_code: the exit status, or None when a signal ended it.
        signal: the signal that ended it (SIGKILL when the host stopped it on a limit,
            SIGXCPU for the CPU limit), or None.
        limits: every limit it hit, the one that stopped it first. ``wall_time``,
            ``cpu_time``, ``output`` and ``disk`` are certain (the host or the kernel stopped
            it); ``memory``, ``processes`` and ``file_size`` are read from the error output of
            a failed run (``MemoryError``, "Resource temporarily unavailable", "File too
            large"), so a program that hides its errors hides them too.
        files: the files in its work dir, by path.
        files_omitted: how many more files there were than the result lists.
        duration: wall seconds from start to end.
        isolation: how it was isolated.
    """

    stdout: str
    stderr: str
    exit_code: int | None
    signal: int | None
    limits: tuple[Limit, ...]
    files: tuple[SandboxFile, ...]
    files_omitted: int
    duration: float
    isolation: Isolation

    @property
    def limit(self) -> Limit | None:
        """The limit that stopped the run (the first of :attr:`limits`), or None."""
        return self.limits[0] if self.limits else None

    @property
    def ok(self) -> bool:
        """Exit status 0 and no limit hit."""
        return self.exit_code == 0 and not self.limits

    @property
    def status(self) -> str:
        """One line: how it ended (``"exit status 0"``, ``"killed by SIGKILL"``)."""
        if self.exit_code is not None:
            return f"exit status {self.exit_code}"
        if self.signal is not None:
            try:
                name = signals.Signals(self.signal).name
            except ValueError:
                name = f"signal {self.signal}"
            return f"killed by {name}"
        return "ended"

    def for_model(self) -> str:
        """The result as text for a model: status, limits, stdout, stderr, files."""
        lines = [self.status + (f" ({_LIMIT_TEXT[self.limits[0]]})" if self.limits else "")]
        if len(self.limits) > 1:
            lines.append("also hit: " + ", ".join(self.limits[1:]))
        lines += ["--- stdout ---", self.stdout, "--- stderr ---", self.stderr]
        if self.files or self.files_omitted:
            lines.append("--- files in the work dir ---")
            for file in self.files:
                text = file.text
                cut = "" if file.complete else f", first {len(file.content)} bytes"
                if text is None:
                    lines.append(f"{file.path} ({file.size} bytes, binary)")
                elif file.size:
                    lines.append(f"{file.path} ({file.size} bytes{cut}):\n{text}")
                else:
                    lines.append(f"{file.path} (empty)")
            if self.files_omitted:
                lines.append(f"... and {self.files_omitted} more files")
        return "\n".join(lines)


__all__ = ["Isolation", "SandboxFile", "SandboxResult"]
