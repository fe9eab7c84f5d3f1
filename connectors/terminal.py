"""Terminal connector: chat with your agent on stdin/stdout, for local development.

Each line you type is a message in one conversation; replies are printed as they come. Lines
are read on a daemon thread (stdin may be a terminal, a pipe or a file), so the event loop
never blocks and a pending read never holds up shutdown. Give it other text streams to drive
it from tests or another program.

Example:
    >>> from connectors.terminal import TerminalConnector
    >>> terminal = TerminalConnector()
    >>> # asyncio.run(AgentRuntime([terminal], [terminal], agent).run())
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import sys
import threading
import uuid
from typing import TextIO

from agent_runner.connector import BaseConnector, Sink
from agent_runner.errors import ConnectorError, InvalidMessageError, StoreError
from agent_runner.message import Author, Message, Reply

logger = logging.getLogger("connectors.terminal")


def _default_user() -> str:
    try:
        return getpass.getuser() or "you"
    except (KeyError, OSError):
        return "you"


class TerminalConnector(BaseConnector):
    """Input and output on text streams (stdin/stdout by default).

    Args:
        stdin: where lines are read (default ``sys.stdin``).
        stdout: where replies are written (default ``sys.stdout``).
        conversation_id: the conversation every line belongs to (memory survives restarts).
        author_id: who is typing (default: the OS user name).
        prompt: written before each line is read (``""`` for none).
        reply_prefix: written before each reply.
        name: the connector's name.
    """

    name = "terminal"
    single_consumer = True

    def __init__(
        self,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        conversation_id: str = "terminal",
        author_id: str | None = None,
        prompt: str = "",
        reply_prefix: str = "agent> ",
        name: str = "terminal",
    ) -> None:
        super().__init__(name=name)
        self._stdin = stdin
        self._stdout = stdout
        self._conversation = conversation_id
        self._author = author_id or _default_user()
        self._prompt = prompt
        self._reply_prefix = reply_prefix
        self._session = uuid.uuid4().hex[:12]
        self._count = 0
        self._write_lock = asyncio.Lock()
        self._lines: asyncio.Queue[str | None] | None = None
        self.eof = asyncio.Event()
        """Set when the input stream ended (Ctrl-D, a closed pipe)."""

    @property
    def _in(self) -> TextIO:
        return self._stdin if self._stdin is not None else sys.stdin

    @property
    def _out(self) -> TextIO:
        return self._stdout if self._stdout is not None else sys.stdout

    def _start_reader(self) -> asyncio.Queue[str | None]:
        """One reader thread per connector (a restarted input keeps reading the same one)."""
        if self._lines is not None:
            return self._lines
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        stream = self._in

        def read() -> None:
            try:
                for line in iter(stream.readline, ""):
                    loop.call_soon_threadsafe(lines.put_nowait, line)
                loop.call_soon_threadsafe(lines.put_nowait, None)
            except (OSError, ValueError) as exc:  # the stream was closed under us
                logger.debug("terminal input ended: %r", exc)
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(lines.put_nowait, None)
            except RuntimeError:  # the event loop is closed: nobody is listening any more
                return

        threading.Thread(target=read, name="agent-runner terminal", daemon=True).start()
        self._lines = lines
        return lines

    async def run(self, sink: Sink) -> None:
        lines = self._start_reader()
        await self._write(self._prompt)
        while True:
            line = await lines.get()
            if line is None:
                self.eof.set()
                logger.info("terminal input closed")
                await self._stopping.wait()
                return
            text = line.rstrip("\r\n")
            if not text.strip():
                await self._write(self._prompt)
                continue
            await self._push(sink, text)

    async def _push(self, sink: Sink, text: str) -> None:
        self._count += 1
        try:
            await sink(
                Message(
                    id=f"{self._session}-{self._count}",
                    conversation_id=self._conversation,
                    source=self.name,
                    author=Author(id=self._author),
                    text=text,
                )
            )
        except InvalidMessageError as exc:
            await self._write(f"(not sent: {exc.reason})\n{self._prompt}")
        except (ConnectorError, StoreError) as exc:
            await self._write(f"(not sent: {exc})\n{self._prompt}")

    async def send(self, request: Message, response: Reply) -> None:
        text = response.text
        for attachment in response.attachments:
            text += f"\n[{attachment.filename or 'attachment'}] {attachment.url}"
        await self._write(f"{self._reply_prefix}{text}\n{self._prompt}")

    async def _write(self, text: str) -> None:
        if not text:
            return
        async with self._write_lock:
            await asyncio.to_thread(self._write_now, text)

    def _write_now(self, text: str) -> None:
        out = self._out
        out.write(text)
        out.flush()


__all__ = ["TerminalConnector"]
