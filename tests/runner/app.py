"""A bot process for the crash tests: a JSON-lines TCP input, a JSON-lines file output.

Run as ``python -m tests.runner.app --db DB --out OUT [--block-from N] [--delay S]``. It
prints ``READY <port>`` once the runner has started; each line sent to the port is a message
(a JSON object) and is answered with one JSON line: ``{"key": ..., "duplicate": ...}`` once
journaled, or ``{"error": reason}``. Every reply is appended to OUT as
``{"key": request key, "text": reply text}``, then ``SENT <key>`` is printed. Messages whose
``metadata.n`` is at least ``--block-from`` make the agent hang (to be killed mid-run);
``TURN <key>`` is printed when a turn starts, ``STOPPING`` when the runner stops the input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from agent_runner import (
    AgentContext,
    AgentRuntime,
    BaseConnector,
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--block-from", type=int, default=None)
    parser.add_argument("--delay", type=float, default=0.0)
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
    runtime = AgentRuntime([connector], [connector], agent, store=SQLiteStore(args.db))
    asyncio.run(runtime.run())
    say("EXIT")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
