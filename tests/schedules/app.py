"""A runner process for the follow-up tests: ``python -m tests.schedules.app --db PATH`` (a
SQLiteStore) or ``--redis URL --prefix P`` (a RedisStore). Its only inputs are a
FollowUpInput polling often and an InMemoryConnector (the output of the conversations);
each turn prints ``TURN <message key>``. Prints ``READY`` once up; SIGTERM stops it."""

from __future__ import annotations

import argparse
import asyncio
import sys

from agent_runner import AgentContext, AgentRuntime, Message, SQLiteStore, Store
from agent_runner.schedules import FollowUpInput, FollowUps
from connectors.inmemory import InMemoryConnector


async def agent(message: Message, context: AgentContext) -> None:
    sys.stdout.write(f"TURN {message.key}\n")
    sys.stdout.flush()


async def main(args: argparse.Namespace) -> None:
    store: Store
    if args.redis:
        from agent_runner.distributed import RedisStore

        store = RedisStore(args.redis, prefix=args.prefix)
    else:
        store = SQLiteStore(args.db)
    chat = InMemoryConnector("chat")
    followups = FollowUpInput(FollowUps(), poll=0.05)
    runtime = AgentRuntime([chat, followups], [chat], agent, store=store)
    task = asyncio.create_task(runtime.run())
    await runtime.wait_started()
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    await task


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db")
    parser.add_argument("--redis")
    parser.add_argument("--prefix", default="agent-runner")
    asyncio.run(main(parser.parse_args()))
