"""A run's private directories on the host, and the files it leaves there.

Layout of one run (``mkdtemp``, mode 0711, removed after the run)::

    <root>/work/   the run's cwd and HOME (inside bubblewrap: /sandbox), owned by its user
    <root>/tmp/    its TMPDIR (inside bubblewrap: /tmp), owned by its user
    <root>/etc/    the passwd and group files bubblewrap shows it

Every method is blocking (disk I/O): call them in a thread.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from agent_runner.sandbox.result import SandboxFile


class RunDir:
    """The private dirs of one run.

    Args:
        root: the run's root dir (see the module docstring).
        uid: the user the run executes as (owns ``work`` and ``tmp``).
    """

    def __init__(self, root: Path, uid: int) -> None:
        self.root = root
        self.uid = uid
        self.work = root / "work"
        self.tmp = root / "tmp"
        self.passwd = root / "etc" / "passwd"
        self.group = root / "etc" / "group"

    @classmethod
    def create(cls, *, parent: str | None, uid: int, gid: int) -> RunDir:
        """Make the dirs; hand ``work`` and ``tmp`` to ``uid:gid`` when we may (as root)."""
        root = Path(tempfile.mkdtemp(prefix="agent-runner-sandbox-", dir=parent))
        run = cls(root, uid)
        try:
            root.chmod(0o711)
            for path in (run.work, run.tmp):
                path.mkdir(mode=0o700)
                if os.geteuid() == 0:
                    os.chown(path, uid, gid)
            run.passwd.parent.mkdir(mode=0o755)
            run.passwd.write_text(
                f"root:x:0:0:root:/root:/bin/sh\nsandbox:x:{uid}:{gid}:sandbox:/sandbox:/bin/sh\n"
            )
            run.group.write_text(f"root:x:0:\nsandbox:x:{gid}:\n")
        except BaseException:
            run.remove()
            raise
        return run

    def size(self) -> int:
        """Bytes in ``work`` and ``tmp`` (file sizes; directories count a block each)."""
        total = 0
        for base in (self.work, self.tmp):
            for folder, dirs, files in os.walk(base):
                total += 4096 * len(dirs)
                for name in files:
                    try:
                        total += os.lstat(os.path.join(folder, name)).st_size
                    except OSError:
                        continue
        return total

    def files(self, *, max_files: int, max_bytes: int) -> tuple[list[SandboxFile], int]:
        """The regular files in ``work`` by path (at most ``max_files``, their contents within
        ``max_bytes`` together) and how many more there were.

        Symbolic links are never followed; as root, only files owned by the run's user are
        read (a link to a host file shows its size, not its content).
        """
        paths: list[str] = []
        for folder, dirs, names in os.walk(self.work):
            dirs.sort()
            for name in names:
                paths.append(os.path.relpath(os.path.join(folder, name), self.work))
        paths.sort()
        found: list[SandboxFile] = []
        budget = max_bytes
        for relative in paths[:max_files]:
            file = self._read(relative, budget)
            if file is not None:
                found.append(file)
                budget -= len(file.content)
        return found, max(0, len(paths) - max_files)

    def _read(self, relative: str, budget: int) -> SandboxFile | None:
        path = self.work / relative
        try:
            info = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        name = relative.replace(os.sep, "/")
        readable = os.geteuid() != 0 or info.st_uid == self.uid
        if budget <= 0 or not readable:
            return SandboxFile(path=name, size=info.st_size, content=b"")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return SandboxFile(path=name, size=info.st_size, content=b"")
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            content = handle.read(budget)
        return SandboxFile(path=name, size=info.st_size, content=content)

    def remove(self) -> None:
        """Delete everything, also dirs the run made unreadable (``chmod 000``)."""
        for folder, dirs, _ in os.walk(self.root):
            for name in dirs:
                path = os.path.join(folder, name)
                if not os.path.islink(path):
                    try:
                        os.chmod(path, 0o700)
                    except OSError:
                        continue
        shutil.rmtree(self.root, ignore_errors=True)


__all__ = ["RunDir"]
