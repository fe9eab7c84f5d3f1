"""The bubblewrap command line of a run: what the sandbox sees and what it shares.

Inside, the run sees: ``/usr`` and the usual top-level links to it (read-only), a short list
of harmless ``/etc`` entries (the loader cache, certificates, time zone, Python's config;
never ``shadow``, ``ssh`` or other secrets), a generated ``/etc/passwd`` and ``/etc/group``,
its interpreter's prefix when it lives outside ``/usr`` (read-only), the extra read-only
paths it was given, its own ``/proc`` and a minimal read-only ``/dev``, and three writable
places: the work dir at ``/sandbox`` (its cwd and ``HOME``), a temp dir at ``/tmp`` (both on
the host's disk, watched for ``disk_bytes``) and a ``/dev/shm`` of ``disk_bytes`` in memory.
The rest of its root is read-only. Nothing else of the host: no home directories, no project
files, no ``/var`` or ``/run`` sockets.

It gets new user, pid, ipc, uts, cgroup and (unless ``network=True``) network namespaces:
its own process tree (it dies with bubblewrap), no network but a loopback of its own, no
further user namespaces where bubblewrap supports ``--disable-userns``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

WORK_DIR = "/sandbox"
"""Where the run's work dir is mounted inside (its cwd and ``HOME``)."""
TEMP_DIR = "/tmp"
"""Where the run's temp dir is mounted inside."""

ETC_ENTRIES = (
    "alternatives",
    "ca-certificates",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "os-release",
    "protocols",
    "services",
    "ssl",
    "terminfo",
    "timezone",
)
"""``/etc`` entries shown read-only (when present), besides Python's ``/etc/python3*``."""

NETWORK_ETC_ENTRIES = ("gai.conf", "host.conf", "hosts", "nsswitch.conf", "resolv.conf")
"""``/etc`` entries shown only with ``network=True``."""

_TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def system_mounts(root: str = "/") -> list[str]:
    """Read-only ``/usr``, the top-level links into it (or binds on a split-usr system) and
    the listed ``/etc`` entries, as bubblewrap arguments (blocking: it looks at the disk)."""
    base = Path(root)
    args = ["--ro-bind", str(base / "usr"), "/usr"]
    for name in _TOP_LEVEL:
        path = base / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), f"/{name}"]
        elif path.is_dir():
            args += ["--ro-bind", str(path), f"/{name}"]
    etc = base / "etc"
    names = [*ETC_ENTRIES, *sorted(p.name for p in etc.glob("python3*"))]
    for name in names:
        if (etc / name).exists():
            args += ["--ro-bind", str(etc / name), f"/etc/{name}"]
    return args


def bubblewrap_command(
    bwrap: str,
    command: Sequence[str],
    *,
    system: Sequence[str],
    work_dir: str,
    temp_dir: str,
    passwd: str,
    group: str,
    env: Mapping[str, str],
    read_only: Sequence[str] = (),
    network: bool = False,
    disable_userns: bool = True,
    shm_bytes: int | None = None,
) -> list[str]:
    """The full ``bwrap`` argv that runs ``command`` (paths inside the sandbox) isolated.

    Args:
        bwrap: the bubblewrap executable.
        command: what to run inside.
        system: the system's mounts (:func:`system_mounts`, computed once).
        work_dir: the host dir mounted writable at :data:`WORK_DIR`.
        temp_dir: the host dir mounted writable at :data:`TEMP_DIR`.
        passwd: the host file shown as ``/etc/passwd``.
        group: the host file shown as ``/etc/group``.
        env: the whole environment inside (the host's is cleared).
        read_only: more host paths shown read-only at the same place.
        network: share the host's network (and show its resolver config).
        disable_userns: forbid user namespaces inside (bubblewrap 0.8+).
        shm_bytes: the size of a writable ``/dev/shm`` in memory (bubblewrap 0.7+), or None
            for none (then ``/dev/shm`` is read-only).

    Example:
        >>> argv = bubblewrap_command(
        ...     "bwrap", ["/usr/bin/true"], system=system_mounts(), work_dir="/w",
        ...     temp_dir="/t", passwd="/p", group="/g", env={"HOME": "/sandbox"})
        >>> "--unshare-net" in argv, argv[-2:]
        (True, ['--', '/usr/bin/true'])
    """
    args = [
        bwrap,
        "--unshare-user",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-uts",
        "--unshare-cgroup-try",
    ]
    if not network:
        args.append("--unshare-net")
    if disable_userns:
        args.append("--disable-userns")
    args += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
    args += system
    if network:
        for name in NETWORK_ETC_ENTRIES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--ro-bind", passwd, "/etc/passwd", "--ro-bind", group, "/etc/group"]
    for path in read_only:
        args += ["--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
    if shm_bytes is not None:
        args += ["--size", str(shm_bytes), "--tmpfs", "/dev/shm"]
    args += ["--bind", work_dir, WORK_DIR, "--bind", temp_dir, TEMP_DIR, "--chdir", WORK_DIR]
    args += ["--remount-ro", "/"]
    args.append("--clearenv")
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--", *command]


def interpreter_mounts(python: str) -> list[str]:
    """The interpreter's prefix (``.../bin/python3`` -> ``...``) when outside ``/usr``."""
    real = Path(os.path.realpath(python))
    if real.is_relative_to("/usr"):
        return []
    return [str(real.parent.parent)]


__all__ = [
    "ETC_ENTRIES",
    "NETWORK_ETC_ENTRIES",
    "TEMP_DIR",
    "WORK_DIR",
    "bubblewrap_command",
    "interpreter_mounts",
    "system_mounts",
]
