"""Start a replica process of tests/limits (``python -m tests.limits.<module> ...``) and open
the store its command line names (``--redis URL --prefix P`` or ``--db PATH``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from agent_runner.distributed import RedisStore
from agent_runner.store import SQLiteStore, Store

ROOT = Path(__file__).resolve().parents[2]


async def start(
    module: str, *args: str, env: Mapping[str, str] | None = None
) -> asyncio.subprocess.Process:
    """The replica, once it printed READY (it then waits for a line on stdin)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"tests.limits.{module}",
        *args,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        assert await proc.stdout.readline() == b"READY\n", f"exited with {await proc.wait()}"
    return proc


def parser() -> argparse.ArgumentParser:
    """The store arguments every replica takes."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis")
    parser.add_argument("--prefix", default="agent-runner")
    parser.add_argument("--db")
    return parser


async def open_store(args: argparse.Namespace) -> Store:
    store: Store = (
        RedisStore(args.redis, prefix=args.prefix) if args.redis else SQLiteStore(args.db)
    )
    await store.open()
    return store


async def ready() -> None:
    """Say READY, then wait for the go line on stdin (all replicas start together)."""
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    await asyncio.to_thread(sys.stdin.readline)


def report(summary: object) -> None:
    import json

    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()
