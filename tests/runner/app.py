"""A bot process for the crash tests: a JSON-lines TCP input, a JSON-lines file output.

Run as ``python -m tests.runner.app --db DB --out OUT [--block-from N] [--delay S]``. It
prints ``READY <port>`` once the runner has started; each line sent to the port is a message
(a JSON object) and is answered with one JSON line: ``{"key": ..., "duplicate": ...}`` once
journaled, or ``{"error": reason}``. Every reply is appended to OUT as
``{"key": request key, "text": reply text}``, then ``SENT <key>`` is printed. Messages whose
``metadata.n`` is at least ``--block-from`` make the agent hang (to be killed mid-run);
``TURN <key>`` is printed when a turn starts, ``STOPPING`` when the runner stops the input.

``--pages FILE`` adds a pipelined input (``page``, answered on the file output): it reads
FILE's JSON lines from a stored cursor, ``--page-size`` at a time, hands each over without
waiting for the journal (:class:`~agent_runner.handover.Handover`), waits until the page is
durable, then moves the cursor and prints ``PAGED <cursor>``. ``--kill-after-handover N``
SIGKILLs the process right after its N-th hand-over (the write not yet committed: the task
that runs it has not even started); ``--kill-before-cursor N`` after the N-th durable page,
before its cursor moved.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from agent_runner import (
    AgentContext,
    AgentRuntime,
    BaseConnector,
    Handover,
    InvalidMessageError,
    Message,
    Reply,
    Sink,
    SQLiteStore,
)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class LineConnector(BaseConnector):
    """JSON lines in over TCP, JSON lines out to a file."""

    name = "line"

    def __init__(self, out: Path) -> None:
        super().__init__()
        self.out = out

    async def run(self, sink: Sink) -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while line := await reader.readline():
                try:
                    accepted = await sink(json.loads(line))
                    answer = {"key": accepted.key, "duplicate": accepted.duplicate}
                except InvalidMessageError as exc:
                    answer = {"error": exc.reason}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        async with server:
            say(f"READY {server.sockets[0].getsockname()[1]}")
            await self._stopping.wait()

    async def stop(self) -> None:
        say("STOPPING")
        await super().stop()

    async def send(self, request: Message, response: Reply) -> None:
        line = json.dumps({"key": request.key, "text": response.text}) + "\n"
        await asyncio.to_thread(self._append, line)
        say(f"SENT {request.key}")

    def _append(self, line: str) -> None:
        with self.out.open("a", encoding="utf-8") as f:
            f.write(line)


class PageConnector(BaseConnector):
    """A file of JSON lines read page by page, pipelined, with a stored cursor."""

    name = "page"

    def __init__(self, path: Path, page_size: int, kill_after: int, kill_before: int) -> None:
        super().__init__()
        self.path, self.page_size = path, page_size
        self.kill_after, self.kill_before = kill_after, kill_before
        self.store: SQLiteStore | None = None

    def bind_store(self, store: SQLiteStore) -> None:
        self.store = store

    async def run(self, sink: Sink) -> None:
        assert self.store is not None
        lines = self.path.read_text().splitlines()
        cursor = int(await self.store.cursor_get(self.name) or 0)
        handover, handed, pages = Handover(sink), 0, 0
        while cursor < len(lines):
            page = lines[cursor : cursor + self.page_size]
            for line in page:
                await handover(json.loads(line))
                handed += 1
                if handed == self.kill_after:
                    os.kill(os.getpid(), signal.SIGKILL)
            await handover.durable()
            pages += 1
            if pages == self.kill_before:
                os.kill(os.getpid(), signal.SIGKILL)
            cursor += len(page)
            await self.store.cursor_set(self.name, str(cursor))
            say(f"PAGED {cursor}")
        await self._stopping.wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--block-from", type=int, default=None)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--pages", type=Path, default=None)
    parser.add_argument("--page-size", type=int, default=10)
    parser.add_argument("--kill-after-handover", type=int, default=0)
    parser.add_argument("--kill-before-cursor", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    async def agent(message: Message, context: AgentContext) -> str:
        say(f"TURN {message.key}")
        await asyncio.sleep(args.delay)
        n = message.metadata.get("n")
        if args.block_from is not None and isinstance(n, int) and n >= args.block_from:
            await asyncio.Event().wait()
        return f"re: {message.text}"

    connector = LineConnector(args.out)
    inputs: list[BaseConnector] = [connector]
    if args.pages is not None:
        kills = (args.kill_after_handover, args.kill_before_cursor)
        inputs.append(PageConnector(args.pages, args.page_size, *kills))
    runtime = AgentRuntime(
        inputs, [connector], agent, store=SQLiteStore(args.db), routes={"page": ["line"]}
    )
    asyncio.run(runtime.run())
    say("EXIT")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
