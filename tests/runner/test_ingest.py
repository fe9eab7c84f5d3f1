"""Pipelined ingest: inputs hand messages over without a commit each (``Handover``).

In process: the runner's sink as a ``PipelinedSink``, every handed-over message answered in
order, duplicates told, a plain sink still awaited. Across SIGKILLs (tests/runner/app.py's
``page`` input, a real SQLite file): a kill after a hand-over whose write has not committed,
or after a durable page whose cursor has not moved, loses and repeats nothing on restart.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from agent_runner import (
    Accepted,
    AgentContext,
    ConnectorError,
    Handover,
    InvalidMessageError,
    Message,
    PipelinedSink,
)
from agent_runner.store import SQLiteStore
from connectors.inmemory import InMemoryConnector
from tests.runner.support import make, running
from tests.runner.test_durability import msg, replies, spawn


def fields(n: int, conversations: int = 3) -> dict[str, Any]:
    return {**msg(n, conversations), "source": "memory"}


async def echo(message: Message, context: AgentContext) -> str:
    return f"re: {message.text}"


async def test_handed_over_messages_are_answered_in_order_and_duplicates_told(
    tmp_path: Path,
) -> None:
    chat = InMemoryConnector()
    store = SQLiteStore(tmp_path / "bot.sqlite3", synchronous="NORMAL")
    async with running(make([chat], [chat], echo, store=store)):
        assert isinstance(chat._sink, PipelinedSink)  # what the runner gives its inputs
        futures = [await chat.hand_over(fields(n)) for n in range(30)]
        await chat.durable()
        assert [f.result() for f in futures] == [Accepted(f"memory:m{n}") for n in range(30)]
        again = await chat.hand_over(fields(7))
        await chat.durable()
        assert again.result() == Accepted("memory:m7", duplicate=True)
        with pytest.raises(InvalidMessageError):
            await chat.hand_over({"id": "x"})
        await chat.wait_for_replies(30)
    assert Counter(request.key for request, _ in chat.sent) == Counter(
        {f"memory:m{n}": 1 for n in range(30)}
    )
    numbers = [int(request.id[1:]) for request, _ in chat.sent]
    for c in range(3):  # each conversation answered in hand-over order
        assert [n for n in numbers if n % 3 == c] == list(range(c, 30, 3))


async def test_a_plain_sink_is_awaited_message_by_message() -> None:
    seen: list[str] = []

    async def sink(data: Message | Mapping[str, Any], /) -> Accepted:
        await asyncio.sleep(0)
        seen.append(str(dict(data)["id"]) if not isinstance(data, Message) else data.id)
        return Accepted(f"feed:{seen[-1]}")

    handover = Handover(sink)
    future = await handover(fields(1))
    assert future.done() and future.result() == Accepted("feed:m1")
    assert seen == ["m1"] and handover.pending == 0
    await handover.durable()


async def test_durable_raises_when_the_runner_stopped_before_journaling(tmp_path: Path) -> None:
    chat = InMemoryConnector()
    store = SQLiteStore(tmp_path / "bot.sqlite3", synchronous="NORMAL")
    async with running(make([chat], [chat], echo, store=store)):
        handover = Handover(chat._sink)  # type: ignore[arg-type]
    with pytest.raises(ConnectorError):  # the runner is not accepting any more
        await handover(fields(1))


# -- across SIGKILLs --------------------------------------------------------------------------
async def run_bot(tmp_path: Path, *args: str, until: str | None = None) -> tuple[int, list[str]]:
    """Run tests/runner/app.py with the ``page`` input; return its exit code and lines.

    Without ``until`` it must die by itself (a SIGKILL); with it, it is stopped with SIGTERM
    once that line was printed and every one of the page file's messages was answered.
    """
    pages = tmp_path / "pages.jsonl"
    proc = await spawn(tmp_path, "--pages", str(pages), *args)
    assert proc.stdout is not None
    total = len(pages.read_text().splitlines())
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            while raw := await proc.stdout.readline():
                lines.append(raw.decode().strip())
                if until in lines and len(replies(tmp_path)) >= total:
                    proc.send_signal(signal.SIGTERM)
                    until = None
            return await proc.wait(), lines
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def write_pages(tmp_path: Path, count: int) -> None:
    lines = [json.dumps({**msg(n), "source": "page"}) for n in range(count)]
    (tmp_path / "pages.jsonl").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("kill", "paged"),
    [
        (("--kill-after-handover", "15"), ["PAGED 10"]),
        (("--kill-before-cursor", "2"), ["PAGED 10"]),
    ],
    ids=["after-hand-over-before-commit", "after-commit-before-cursor"],
)
async def test_a_sigkill_in_a_pipelined_page_loses_and_repeats_nothing(
    tmp_path: Path, kill: tuple[str, str], paged: list[str]
) -> None:
    write_pages(tmp_path, 30)
    # every turn hangs in the first run, so only the journal and the cursor carry over
    code, lines = await run_bot(tmp_path, *kill, "--block-from", "0")
    assert code == -signal.SIGKILL
    assert [line for line in lines if line.startswith("PAGED")] == paged
    assert replies(tmp_path) == []

    code, lines = await run_bot(tmp_path, until="PAGED 30")
    assert code == 0
    assert [line for line in lines if line.startswith("PAGED")] == ["PAGED 20", "PAGED 30"]
    counts = Counter(r["key"] for r in replies(tmp_path))
    assert counts == Counter({f"page:m{n}": 1 for n in range(30)})
    c0 = [int(r["key"][6:]) for r in replies(tmp_path) if int(r["key"][6:]) % 3 == 0]
    assert c0 == sorted(c0)
