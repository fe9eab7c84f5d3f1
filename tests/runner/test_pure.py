"""The runner's small parts: backoff, loop guards, routing, signal handlers."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from agent_runner import Message, Reply
from agent_runner._delivery import route
from agent_runner._guards import LoopGuard
from agent_runner._signals import stop_on_signals
from agent_runner.backoff import backoff_delay, retry_wait


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "expected"),
    [
        (1, 0.5, 30.0, 0.5),
        (2, 0.5, 30.0, 1.0),
        (3, 0.5, 30.0, 2.0),
        (6, 0.5, 30.0, 16.0),
        (7, 0.5, 30.0, 30.0),
        (10_000, 0.5, 30.0, 30.0),
        (3, 0.0, 30.0, 0.0),
        (3, 1.0, 0.0, 0.0),
    ],
)
def test_backoff_delay_doubles_up_to_the_cap(
    attempt: int, base: float, cap: float, expected: float
) -> None:
    assert backoff_delay(attempt, base=base, cap=cap) == expected


@pytest.mark.parametrize(("jitter", "expected"), [(0.0, 1.0), (0.5, 1.5), (0.999, 1.999)])
def test_backoff_jitter_spreads_within_half_to_full(jitter: float, expected: float) -> None:
    assert backoff_delay(2, base=1.0, cap=10.0, jitter=jitter) == pytest.approx(expected)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempt": 0, "base": 1.0, "cap": 1.0},
        {"attempt": 1, "base": -1.0, "cap": 1.0},
        {"attempt": 1, "base": 1.0, "cap": -1.0},
        {"attempt": 1, "base": 1.0, "cap": 1.0, "jitter": 1.0},
    ],
)
def test_backoff_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        backoff_delay(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"),
    [(1, None, 0.5), (1, 3.0, 3.0), (4, 1.0, 4.0), (1, 10.0, 10.0), (1, 10.5, None)],
)
def test_retry_wait_honours_retry_after_within_the_cap(
    attempt: int, retry_after: float | None, expected: float | None
) -> None:
    assert retry_wait(attempt, base=0.5, cap=10.0, retry_after=retry_after) == expected


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
