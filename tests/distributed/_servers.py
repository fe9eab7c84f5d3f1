"""Local redis-server processes for the tests: free port, optional password, restartable."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pytest


def unavailable(reason: str) -> None:
    """Under CI=true a missing service fails the test; elsewhere it skips with the reason."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the distributed tests must run)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ping(port: int, password: str | None = None, timeout: float = 0.5) -> bool:
    """True when a Redis on 127.0.0.1:port answers PING (with AUTH when a password is given)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            if password is not None:
                sock.sendall(f"AUTH {password}\r\n".encode())
                if not sock.recv(64).startswith(b"+OK"):
                    return False
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A redis-server child on a free port; ``restart()`` keeps its data (AOF, fsync always).

    ``acl_file``: users from that file (its ``default`` user's password is ``password``);
    ``extra``: more redis-server arguments (TLS).
    """

    def __init__(
        self,
        *,
        password: str | None = None,
        persistent: bool = False,
        acl_file: Path | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed (apt-get install redis-server)")
        self._binary = str(binary)
        self.password = password
        self.persistent = persistent
        self.acl_file = acl_file
        self.extra = list(extra)
        self.port = free_port()
        self._dir = tempfile.mkdtemp(prefix="agent-runner-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            self._binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self._dir,
            "--save",
            "",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ]
        if self.persistent:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        if self.acl_file is not None:
            args += ["--aclfile", str(self.acl_file)]
        elif self.password:
            args += ["--requirepass", self.password]
        args += self.extra
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not ping(self.port, self.password):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                unavailable(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL the server (no shutdown save: only what the AOF fsynced survives)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(Path(self._dir), ignore_errors=True)
