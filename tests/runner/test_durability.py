"""Delivery across crashes, restarts and a second runner on the same SQLite file.

The crash tests run a real bot process (tests/runner/app.py): a JSON-lines TCP input, a
JSON-lines file output, a SQLiteStore. The test kills it with SIGKILL while turns are in
flight, restarts it, and checks every accepted input was answered exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from agent_runner import AgentContext, Message
from agent_runner.memory import ShortTermMemory
from agent_runner.store import SQLiteStore
from connectors.inmemory import InMemoryConnector
from tests.runner.support import make, running

ROOT = Path(__file__).resolve().parents[2]


class Bot:
    """A running tests/runner/app.py process and a client connection to its input."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.turns: list[str] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        while True:
            line = await self.next_line()
            if line.startswith("READY "):
                port = int(line.split()[1])
                break
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", port)

    async def next_line(self) -> str:
        assert self.proc.stdout is not None
        raw = await self.proc.stdout.readline()
        if not raw:
            raise AssertionError(f"bot exited early with {await self.proc.wait()}")
        line = raw.decode().strip()
        if line.startswith("TURN "):
            self.turns.append(line[5:])
        return line

    async def send(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        assert self._reader is not None and self._writer is not None
        for message in messages:
            self._writer.write(json.dumps(message).encode() + b"\n")
        await self._writer.drain()
        return [json.loads(await self._reader.readline()) for _ in messages]

    async def wait_turn(self, key: str) -> None:
        while key not in self.turns:
            await self.next_line()

    async def disconnect(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
            self._writer = None

    async def finish(self, sig: signal.Signals) -> int:
        await self.disconnect()
        self.proc.send_signal(sig)
        assert self.proc.stdout is not None
        await self.proc.stdout.read()
        return await self.proc.wait()


async def spawn(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    """Start tests/runner/app.py on ``tmp_path``'s database and reply file."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.runner.app",
        "--db",
        str(tmp_path / "bot.sqlite3"),
        "--out",
        str(tmp_path / "replies.jsonl"),
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@contextlib.asynccontextmanager
async def bot(tmp_path: Path, *args: str) -> AsyncIterator[Bot]:
    proc = await spawn(tmp_path, *args)
    running_bot = Bot(proc)
    try:
        async with asyncio.timeout(20):
            await running_bot.connect()
        yield running_bot
    finally:
        await running_bot.disconnect()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def msg(n: int, conversations: int = 3) -> dict[str, Any]:
    return {
        "id": f"m{n}",
        "conversation_id": f"c{n % conversations}",
        "source": "line",
        "author": {"id": "user"},
        "text": f"message {n}",
        "metadata": {"n": n},
    }


def replies(tmp_path: Path) -> list[dict[str, str]]:
    path = tmp_path / "replies.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def wait_replies(proc: Bot, tmp_path: Path, count: int) -> list[dict[str, str]]:
    """Read the bot's output lines until ``count`` replies are in the file."""
    async with asyncio.timeout(20):
        while len(found := replies(tmp_path)) < count:
            await proc.next_line()
    return found


async def test_sigkill_mid_run_then_restart_answers_every_accepted_input_once(
    tmp_path: Path,
) -> None:
    total, block_from = 30, 12
    async with bot(tmp_path, "--block-from", str(block_from), "--delay", "0.002") as first:
        acks = await first.send([msg(n) for n in range(total)])
        assert all(not a.get("duplicate") and "key" in a for a in acks), acks
        await wait_replies(first, tmp_path, block_from)  # the rest hang in the agent or wait
        await first.wait_turn("line:m12")  # c0's fifth message is in flight
        first.proc.kill()  # SIGKILL: no shutdown at all
        assert await first.proc.wait() == -signal.SIGKILL
    assert len(replies(tmp_path)) == block_from

    async with bot(tmp_path) as second:
        again = await second.send([msg(0), msg(20), msg(total), msg(total + 1)])
        assert [a["duplicate"] for a in again] == [True, True, False, False]
        await wait_replies(second, tmp_path, total + 2)
        assert await second.finish(signal.SIGTERM) == 0
    found = replies(tmp_path)
    counts = Counter(r["key"] for r in found)
    assert counts == Counter({f"line:m{n}": 1 for n in range(total + 2)})
    by_key = {r["key"]: r["text"] for r in found}
    assert by_key["line:m29"] == "re: message 29"
    # within one conversation the replies are in order across the restart
    c0 = [int(r["key"][6:]) for r in found if int(r["key"][6:]) % 3 == 0]
    assert c0 == sorted(c0)


async def test_sigterm_finishes_in_flight_work_and_exits_zero(tmp_path: Path) -> None:
    async with bot(tmp_path, "--delay", "0.3") as proc:
        [ack] = await proc.send([msg(1)])
        assert ack == {"key": "line:m1", "duplicate": False}
        await proc.wait_turn("line:m1")
        assert await proc.finish(signal.SIGTERM) == 0
    assert replies(tmp_path) == [{"key": "line:m1", "text": "re: message 1"}]


async def test_a_second_sigterm_cuts_the_grace_short_and_the_restart_answers(
    tmp_path: Path,
) -> None:
    async with bot(tmp_path, "--delay", "60") as proc:
        await proc.send([msg(1)])
        await proc.wait_turn("line:m1")
        proc.proc.send_signal(signal.SIGTERM)
        while await proc.next_line() != "STOPPING":  # the first is handled: shutting down
            pass
        assert await proc.finish(signal.SIGTERM) == 0  # not 60 s later
    assert replies(tmp_path) == []
    async with bot(tmp_path) as proc:
        await wait_replies(proc, tmp_path, 1)
        assert await proc.finish(signal.SIGTERM) == 0
    assert replies(tmp_path) == [{"key": "line:m1", "text": "re: message 1"}]


async def test_sigint_stops_gracefully_too(tmp_path: Path) -> None:
    async with bot(tmp_path) as proc:
        await proc.send([msg(1)])
        await wait_replies(proc, tmp_path, 1)
        assert await proc.finish(signal.SIGINT) == 0


async def test_two_bot_processes_on_one_sqlite_file_answer_each_message_once(
    tmp_path: Path,
) -> None:
    async with bot(tmp_path, "--delay", "0.01") as one, bot(tmp_path, "--delay", "0.01") as two:
        messages = [msg(n) for n in range(20)]
        acks_one, acks_two = await asyncio.gather(one.send(messages), two.send(messages))
        firsts = [a["duplicate"] is False for a in acks_one + acks_two]
        assert sum(firsts) == 20  # each id accepted by exactly one process
        # a graceful stop finishes every accepted message before exiting
        codes = await asyncio.gather(one.finish(signal.SIGTERM), two.finish(signal.SIGTERM))
        assert list(codes) == [0, 0]
    counts = Counter(r["key"] for r in replies(tmp_path))
    assert counts == Counter({f"line:m{n}": 1 for n in range(20)})


async def test_a_second_runner_on_the_same_sqlite_file_does_not_answer_twice(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.sqlite3"
    one, two = InMemoryConnector(), InMemoryConnector()
    shared = InMemoryConnector()  # both runners' output named "memory"
    gate = asyncio.Event()

    async def slow_echo(message: Message, context: AgentContext) -> str:
        await gate.wait()
        return message.text

    first = make([one], [shared], slow_echo, store=SQLiteStore(path, synchronous="NORMAL"))
    second = make([two], [shared], slow_echo, store=SQLiteStore(path, synchronous="NORMAL"))
    async with running(first):
        acks_one = [
            await one.push(f"m{i}", id=f"m{i}", conversation_id=f"c{i % 2}") for i in range(10)
        ]
        async with running(second):  # recovers the first runner's pending turns too
            acks_two = [
                await two.push(f"m{i}", id=f"m{i}", conversation_id=f"c{i % 2}") for i in range(10)
            ]
            gate.set()
            await shared.wait_for_replies(10)
            assert not any(a.duplicate for a in acks_one)
            assert all(a.duplicate for a in acks_two)
    # both stopped: in-flight turns finished; each message answered by exactly one runner
    texts = [r.text for _, r in shared.sent]
    assert sorted(texts) == sorted(f"m{i}" for i in range(10))


async def test_memory_persists_across_restart_and_is_per_conversation(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite3"

    async def recall(message: Message, context: AgentContext) -> str:
        earlier = [f"{m.role}:{m.text}" for m in context.memory.messages]
        return " | ".join(earlier) or "(nothing)"

    for expected in (["(nothing)"], ["user:hello | assistant:(nothing)"]):
        chat = InMemoryConnector()
        store = SQLiteStore(path, synchronous="NORMAL")
        runtime = make([chat], [chat], recall, short_term_memory=ShortTermMemory(), store=store)
        async with running(runtime):
            await chat.push("hello", conversation_id="alice")
            await chat.wait_for_replies(1)
        assert chat.replies_to("alice") == expected

    chat = InMemoryConnector()
    store = SQLiteStore(path, synchronous="NORMAL")
    async with running(
        make([chat], [chat], recall, short_term_memory=ShortTermMemory(), store=store)
    ):
        await chat.push("hi", conversation_id="bob")
        await chat.wait_for_replies(1)
    assert chat.replies_to("bob") == ["(nothing)"]  # alice's memory is not bob's


async def test_stop_with_work_left_after_the_grace_keeps_it_journaled(tmp_path: Path) -> None:
    path = tmp_path / "grace.sqlite3"
    chat = InMemoryConnector()
    started = asyncio.Event()
    never = asyncio.Event()

    async def hang(message: Message, context: AgentContext) -> str:
        started.set()
        await never.wait()
        return "late"

    runtime = make([chat], [chat], hang, store=SQLiteStore(path), shutdown_grace=0.05)
    async with running(runtime):
        await chat.push("first", id="g1")
        await chat.push("second", id="g2")
        await started.wait()
    assert chat.sent == []

    async def fast(message: Message, context: AgentContext) -> str:
        return f"now {message.text}"

    chat = InMemoryConnector()
    async with running(make([chat], [chat], fast, store=SQLiteStore(path))):
        sent = await chat.wait_for_replies(2)
    assert [r.text for _, r in sent] == ["now first", "now second"]
