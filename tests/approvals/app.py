"""A banker bot process for the approval crash tests.

Run as ``python -m tests.approvals.app --db DB --runs RUNS --port P --admin-port A``: the
HTTP connector on P (``POST /v1/messages``), the approval routes on A, a SQLiteStore at DB.
Every run of the gated ``transfer`` tool appends a line to RUNS. Prints ``READY`` once up.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from aiohttp import web

from agent_runner import AgentRuntime, SQLiteStore
from agent_runner.approvals import approval_routes
from connectors.http import HTTPConnector
from tests.approvals.support import make_agent


async def main(args: argparse.Namespace) -> None:
    runs = Path(args.runs)

    def record(line: str) -> None:
        with runs.open("a") as file:  # a few bytes, appended by the test's own tool
            file.write(line + "\n")

    agent, _ = make_agent(record)
    assert agent.approvals is not None
    http = HTTPConnector(port=args.port)
    store = SQLiteStore(args.db)
    runtime = AgentRuntime([http], [http], agent, store=store, retry_base_delay=0.01)
    admin = web.Application()
    admin.add_routes(approval_routes(agent.approvals, store, runtime.sink))
    site_runner = web.AppRunner(admin, handle_signals=False)
    await site_runner.setup()
    await web.TCPSite(site_runner, "127.0.0.1", args.admin_port).start()
    task = asyncio.create_task(runtime.run())
    await runtime.wait_started()
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    try:
        await task
    finally:
        await site_runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for name in ("--db", "--runs"):
        parser.add_argument(name, required=True)
    for name in ("--port", "--admin-port"):
        parser.add_argument(name, type=int, required=True)
    asyncio.run(main(parser.parse_args()))
