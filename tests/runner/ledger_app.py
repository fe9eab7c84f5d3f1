"""A bot process for the reply-ledger crash tests (``tests/runner/ledger_harness.py``).

Run as ``python -m tests.runner.ledger_app --db DB --messages FILE --webhook URL
[--platforms]``. On start its input pushes every message of FILE (JSON lines; those journaled
before are duplicates and are not handled again), and every reply goes to two exactly-once
webhook outputs (``URL/a`` and ``URL/b``: a message reaching several outputs) and, with
``--platforms``, to Discord (exactly once, nonces; ``DISCORD_*`` and ``DISCORD_POST_CHANNEL_ID``
point it at a fake) and X (reconciled; ``X_*``). Message ``n``
gets two replies when ``n % 5 == 0``. It prints ``READY`` once started, then ``DRAINED``
each time the journal has nothing pending. ``AGENT_RUNNER_KILL_AT`` in its environment
makes it SIGKILL itself on the send path (:mod:`agent_runner.runner.faults`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

from agent_runner import AgentContext, AgentRuntime, BaseConnector, Message, Sink, SQLiteStore
from agent_runner.outbound import OutboundGuard
from connectors.webhook import WebhookOutput


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def replies_of(n: int) -> list[str]:
    """What the agent answers to message ``n`` (the harness expects exactly these)."""
    return [f"re {n}", f"more {n}"] if n % 5 == 0 else [f"re {n}"]


class FileInput(BaseConnector):
    name = "feed"

    def __init__(self, path: Path, store: SQLiteStore) -> None:
        super().__init__()
        self.path = path
        self.store = store

    async def run(self, sink: Sink) -> None:
        for line in self.path.read_text().splitlines():
            await sink(json.loads(line))
        say("READY")
        while not self.stopping:
            if not await self.store.journal_pending():
                say("DRAINED")
            await asyncio.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--messages", type=Path, required=True)
    parser.add_argument("--webhook", required=True)
    parser.add_argument("--platforms", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    async def agent(message: Message, context: AgentContext) -> list[str]:
        n = message.metadata["n"]
        assert isinstance(n, int)
        return replies_of(n)

    store = SQLiteStore(args.db)
    guard = OutboundGuard.from_env()
    hooks = [
        WebhookOutput(f"{args.webhook}/{name}", name=name, guard=guard, backoff_base=0.01)
        for name in ("a", "b")
    ]
    outputs: list[Any] = list(hooks)
    if args.platforms:
        from connectors.discord import DiscordConnector
        from connectors.x import XConnector

        outputs += [
            DiscordConnector(guild_ready_timeout=0.01, identify_delay=0.0, typing=False),
            XConnector.from_env(),
        ]
    runtime = AgentRuntime(
        [FileInput(args.messages, store)],
        outputs,
        agent,
        store=store,
        routes={"feed": [o.name for o in outputs]},
        retry_base_delay=0.01,
    )
    asyncio.run(runtime.run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
