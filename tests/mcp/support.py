"""Real MCP servers for the tests (``server_app.py``, written with the SDK): a stdio child
per MCPServer, or an HTTP server process on a free port of 127.0.0.1 that the tests kill
and restart."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_runner.backoff import RetryPolicy
from agent_runner.mcp import MCPServer
from agent_runner.outbound import OutboundGuard

SERVER_APP = Path(__file__).with_name("server_app.py")

FAST_RECONNECT = RetryPolicy(retries=200, base=0.05, cap=0.5)
"""Reconnect quickly in tests (still capped: 200 attempts, 0.5 s at most between them)."""

LOCAL = OutboundGuard.build(["127.0.0.1"])
"""The outbound guard with this machine's test servers allow-listed."""


def stdio_server(pidfile: Path, **options: Any) -> MCPServer:
    """An MCPServer running ``server_app.py stdio``; the child writes its pid to ``pidfile``."""
    options.setdefault("reconnect", FAST_RECONNECT)
    return MCPServer.stdio(
        sys.executable,
        [str(SERVER_APP), "stdio"],
        env={"MCP_TEST_PIDFILE": str(pidfile)},
        name="local",
        **options,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_until(condition: Callable[[], bool], *, within: float = 20.0) -> None:
    """Poll ``condition`` until it holds; fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


def pid_in(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text())
    except (FileNotFoundError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def kill_when_slow_call_started(pidfile: Path) -> int:
    """SIGKILL the server once its ``slow`` tool has started; return the pid killed."""
    marker = Path(f"{pidfile}.slow")
    await wait_until(marker.exists)
    pid = pid_in(pidfile)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await asyncio.to_thread(marker.unlink)
    return pid


class HTTPServerProcess:
    """``server_app.py http PORT``: a streamable-HTTP MCP server in its own process."""

    def __init__(self, pidfile: Path) -> None:
        self.port = free_port()
        self.pidfile = pidfile
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    async def start(self) -> None:
        env = {**os.environ, "MCP_TEST_PIDFILE": str(self.pidfile)}
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SERVER_APP),
            "http",
            str(self.port),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(20):
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    if self._process.returncode is not None:
                        raise RuntimeError("the MCP test server exited") from None
                    await asyncio.sleep(0.05)
                    continue
                writer.close()
                await writer.wait_closed()
                return

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        self._process = None
