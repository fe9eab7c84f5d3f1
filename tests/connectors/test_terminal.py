"""Terminal connector: a round trip over real pipes, in process and in a subprocess."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from connectors.terminal import TerminalConnector
from tests.connectors._web_fixtures import Recorder, running


class Screen(io.StringIO):
    """A stdout that wakes the test when a line is written (writes come from a thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.changed = asyncio.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        self.loop.call_soon_threadsafe(self.changed.set)
        return written

    async def wait_for(self, text: str) -> str:
        async with asyncio.timeout(10):
            while text not in self.getvalue():
                self.changed.clear()
                await self.changed.wait()
        return self.getvalue()


async def test_round_trip_over_a_pipe() -> None:
    read_fd, write_fd = os.pipe()
    stdin = os.fdopen(read_fd, "r")
    screen = Screen(asyncio.get_running_loop())
    agent = Recorder()
    terminal = TerminalConnector(stdin=stdin, stdout=screen, author_id="dev", prompt="> ")
    try:
        async with running([terminal], [terminal], agent):
            os.write(write_fd, b"hello\n\nsecond line\n")
            await screen.wait_for("agent> echo: second line")
            os.close(write_fd)
            await asyncio.wait_for(terminal.eof.wait(), 10)
    finally:
        stdin.close()
    assert [m.text for m in agent.seen] == ["hello", "second line"]
    assert {m.conversation_id for m in agent.seen} == {"terminal"}
    assert agent.seen[0].author.id == "dev"
    assert len({m.id for m in agent.seen}) == 2
    shown = screen.getvalue()
    assert shown.startswith("> ") and shown.endswith("\n> ")
    assert "agent> echo: hello\n" in shown


SCRIPT = textwrap.dedent(
    """
    import asyncio
    from agent_runner.store import InMemoryStore
    from connectors.terminal import TerminalConnector
    from tests.connectors._web_fixtures import AgentRuntime

    async def shout(message, context):
        return message.text.upper()

    terminal = TerminalConnector()
    asyncio.run(AgentRuntime([terminal], [terminal], shout, store=InMemoryStore()).run())
    """
)


def test_subprocess_stdin_stdout_and_sigterm(tmp_path: Path) -> None:
    script = tmp_path / "term.py"
    script.write_text(SCRIPT)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"are you there\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line == b"agent> ARE YOU THERE\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
