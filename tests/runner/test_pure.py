"""The runner's small parts: loop guards, routing, signal handlers (backoff: test_backoff)."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from agent_runner import Message, Reply
from agent_runner.runner.guards import LoopGuard
from agent_runner.runner.replies import route
from agent_runner.runner.signals import stop_on_signals


def _message(**fields: object) -> Message:
    data: dict[str, object] = {
        "id": "1",
        "conversation_id": "c",
        "source": "discord",
        "author": {"id": "u"},
        "text": "hi",
    }
    data.update(fields)
    return Message.parse(data)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"author": {"id": "me"}}, "refused: author 'me' is ignored"),
        ({"author": {"id": "b", "is_bot": True}}, "refused: author 'b' is a bot"),
        ({"depth": 3}, None),
        ({"depth": 4}, "refused: reply depth 4 is over max_reply_depth 3"),
    ],
)
def test_loop_guard(fields: dict[str, object], reason: str | None) -> None:
    guard = LoopGuard.of(ignore_authors={"me"}, allow_bots=False, max_reply_depth=3)
    found = guard.check(_message(**fields))
    if reason is None:
        assert found is None
    else:
        assert found is not None and found.startswith(reason)


def test_loop_guard_allow_bots_still_ignores_own_account() -> None:
    guard = LoopGuard.of(ignore_authors={"me"}, allow_bots=True, max_reply_depth=3)
    assert guard.check(_message(author={"id": "b", "is_bot": True})) is None
    assert guard.check(_message(author={"id": "me", "is_bot": True})) is not None


@pytest.mark.parametrize(
    ("source", "targets", "routes", "expected"),
    [
        ("discord", None, None, (["discord"], [])),
        ("cron", None, None, ([], ["cron"])),
        ("cron", None, {"cron": ["x"]}, (["x"], [])),
        ("cron", None, {"cron": ["x", "discord", "x"]}, (["x", "discord"], [])),
        ("discord", None, {"cron": ["x"]}, (["discord"], [])),
        ("discord", ("x",), {"discord": ["discord"]}, (["x"], [])),
        ("discord", ("nope", "x"), None, (["x"], ["nope"])),
        ("discord", (), None, ([], [])),
    ],
)
def test_route(
    source: str,
    targets: tuple[str, ...] | None,
    routes: dict[str, list[str]] | None,
    expected: tuple[list[str], list[str]],
) -> None:
    reply = Reply(text="r", targets=targets)
    got = route(_message(source=source), reply, outputs=["discord", "x"], routes=routes)
    assert got == expected


async def test_stop_on_signals_restores_the_programs_handlers() -> None:
    seen: list[str] = []

    def mine(signum: int, frame: object) -> None:
        seen.append("mine")

    before = signal.signal(signal.SIGTERM, mine)
    try:
        loop = asyncio.get_running_loop()
        got = asyncio.Event()
        with stop_on_signals(loop, lambda sig: got.set(), enabled=True) as installed:
            assert signal.SIGTERM in installed
            os.kill(os.getpid(), signal.SIGTERM)
            await got.wait()
        assert signal.getsignal(signal.SIGTERM) is mine
        with stop_on_signals(loop, lambda sig: None, enabled=False) as installed:
            assert installed == []
    finally:
        signal.signal(signal.SIGTERM, before)
    assert seen == []
