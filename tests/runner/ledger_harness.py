"""SIGKILL a real bot process at random points of its send path, restart it, count replies.

:func:`crash_run` runs ``tests/runner/ledger_app.py`` on one SQLite file against a
:class:`~agent_runner.testing.webhook.FakeWebhookReceiver`, killing it ``kills`` times at a
seeded random send-path checkpoint (``AGENT_RUNNER_KILL_AT``), restarting it each time,
then lets a last run finish. Used by ``tests/runner/test_ledger_crash.py`` (short) and
``bench/bench_delivery.py`` (>= 2,000 messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from agent_runner.runner.faults import KILL_AT_ENV
from agent_runner.testing.discord import FakeDiscord
from agent_runner.testing.webhook import FakeWebhookReceiver
from agent_runner.testing.x import FakeX
from tests.runner.ledger_app import replies_of

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ("a", "b")
POINTS = ("claimed", "sent")  # the webhook posts one part per reply: no part checkpoints
PLATFORM_POINTS = ("claimed", "part", "recorded", "sent")


@dataclass
class PlatformFigures:
    """What one platform shows after the run: each owed reply text should appear once."""

    owed: int
    kept: int
    """Owed texts present at least once."""
    duplicates: int
    """Extra copies of an owed text (visible duplicates)."""
    lookups: int = 0
    """Reconciliation lookups (X), or creates answered by nonce (Discord)."""

    @property
    def lost(self) -> int:
        return self.owed - self.kept


@dataclass
class CrashFigures:
    messages: int
    expected: int
    """Replies to deliver: every reply of every message, on every output."""
    kept: int = 0
    """Replies the receiver kept (the first POST of each key)."""
    wrong: int = 0
    """Kept replies whose text is not the expected one."""
    resent: int = 0
    """POSTs under a key the receiver had already kept (dropped by its deduplication)."""
    kills: list[str] = field(default_factory=list)
    restarts: int = 0
    platforms: dict[str, PlatformFigures] = field(default_factory=dict)
    """Discord and X (with ``platforms=True``)."""

    @property
    def lost(self) -> int:
        return self.expected - self.kept

    @property
    def exactly_once_rate(self) -> float:
        return (self.kept - self.wrong) / self.expected


def expected_replies(messages: int) -> dict[tuple[str, str], str]:
    """(path, Idempotency-Key) -> reply text, for every reply the bot owes."""
    owed: dict[tuple[str, str], str] = {}
    for n in range(messages):
        for index, text in enumerate(replies_of(n)):
            for output in OUTPUTS:
                owed[(f"/hook/{output}", f"feed:m{n}#{index}")] = text
    return owed


def write_messages(path: Path, messages: int) -> None:
    lines = (
        json.dumps(
            {
                "id": f"m{n}",
                "conversation_id": f"c{n % 16}",
                "source": "feed",
                "author": {"id": "u"},
                "text": f"message {n}",
                "metadata": {"n": n},
            }
        )
        for n in range(messages)
    )
    path.write_text("\n".join(lines) + "\n")


async def crash_run(
    workdir: Path,
    *,
    messages: int,
    kills: int,
    seed: int,
    within: float = 120.0,
    platforms: bool = False,
) -> CrashFigures:
    """Deliver ``messages`` through ``kills`` SIGKILLs and restarts; count what arrived."""
    async with contextlib.AsyncExitStack() as stack:
        env: dict[str, str] = {}
        discord: FakeDiscord | None = None
        x: FakeX | None = None
        if platforms:
            discord = await stack.enter_async_context(FakeDiscord(heartbeat_interval=1.0))
            x = await stack.enter_async_context(FakeX())
            env = {**discord.env(), "DISCORD_POST_CHANNEL_ID": discord.channel_id, **x.env()}
        figures = await _crash_run(
            workdir, messages=messages, kills=kills, seed=seed, within=within, env=env
        )
        owed = Counter(text for n in range(messages) for text in replies_of(n))
        if discord is not None and x is not None:
            posted = Counter(m.content for m in discord.messages_in(discord.channel_id))
            figures.platforms["discord"] = _platform(owed, posted, discord._rest.nonce_hits)
            tweets = Counter(t.text for t in x.posted)
            figures.platforms["x"] = _platform(owed, tweets, x.calls("user_tweets"))
        return figures


def _platform(owed: Counter[str], seen: Counter[str], lookups: int) -> PlatformFigures:
    return PlatformFigures(
        owed=sum(owed.values()),
        kept=sum(min(seen[text], n) for text, n in owed.items()),
        duplicates=sum(max(0, seen[text] - n) for text, n in owed.items()),
        lookups=lookups,
    )


async def _crash_run(
    workdir: Path, *, messages: int, kills: int, seed: int, within: float, env: dict[str, str]
) -> CrashFigures:
    rng = random.Random(seed)
    points = PLATFORM_POINTS if env else POINTS
    db, feed = workdir / "bot.sqlite3", workdir / "messages.jsonl"
    write_messages(feed, messages)
    owed = expected_replies(messages)
    figures = CrashFigures(messages=messages, expected=len(owed))
    async with FakeWebhookReceiver() as receiver:
        async with asyncio.timeout(within):
            while True:
                remaining = len(owed) - len(receiver.kept)
                kill_at = None
                if len(figures.kills) < kills and remaining > 0:
                    point = points[len(figures.kills) % len(points)]  # every point in turn
                    kill_at = f"{point}:{rng.randint(1, max(1, remaining))}"
                code = await _run_once(db, feed, receiver, kill_at, env)
                if code == -signal.SIGKILL:
                    assert kill_at is not None, "the bot was killed without a kill point"
                    figures.kills.append(kill_at)
                    figures.restarts += 1
                    continue
                break
    kept = {(p.path, p.key): p for p in receiver.kept if p.key is not None}
    figures.kept = len(kept.keys() & owed.keys())
    figures.wrong = sum(
        1 for k, p in kept.items() if k in owed and p.json["reply"]["text"] != owed[k]
    )
    figures.resent = receiver.duplicates
    assert set(receiver.kept_keys().values()) <= {1}
    assert not set(Counter(kept)) - set(owed), "a reply nobody asked for"
    return figures


async def _run_once(
    db: Path,
    feed: Path,
    receiver: FakeWebhookReceiver,
    kill_at: str | None,
    platform_env: dict[str, str],
) -> int:
    """Run the bot until it is killed (its exit code) or drained (SIGTERM; its exit code)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **platform_env}
    env.pop(KILL_AT_ENV, None)
    if kill_at is not None:
        env[KILL_AT_ENV] = kill_at
    base = receiver.url.rsplit("/", 1)[0] + "/hook"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.runner.ledger_app",
        "--db",
        str(db),
        "--messages",
        str(feed),
        "--webhook",
        base,
        *(["--platforms"] if platform_env else []),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    try:
        while True:
            line = (await proc.stdout.readline()).decode().strip()
            if not line:  # it exited (killed at its checkpoint)
                return await proc.wait()
            if line == "DRAINED":  # nothing pending: every reply has an outcome
                proc.send_signal(signal.SIGTERM)
                await proc.stdout.read()
                return await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
