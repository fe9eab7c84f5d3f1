"""Two admin decisions of one approval at once, with the gap between the winner's taking of the
decision and its copy held open: the other is answered with what the winner decided at once
(the same decision: 200, as a repeat; another: 409), and the call runs once. A winner that
fails in that gap loses nothing: the decision holds, and posting it again resumes the turn.
Deterministic forms of the race that test_restart's two-processes test meets now and then.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web

from agent_runner.approvals import approval_routes
from agent_runner.errors import StoreError
from agent_runner.store import InMemoryStore
from connectors.inmemory import InMemoryConnector
from tests.approvals.support import APPROVAL_ID, make_agent
from tests.runner.support import make, running

Decide = Callable[[str, str], Awaitable[int]]
"""``(approval id, "approve" | "deny") -> HTTP status`` of the admin API."""


class HeldRecord(InMemoryStore):
    """Holds a decider's copy of its decision back (after it took the decision) until
    released."""

    def __init__(self) -> None:
        super().__init__()
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def state_set(self, key: str, value: str) -> None:
        if key.startswith("approval-decision:"):
            self.held.set()
            await self.release.wait()
        await super().state_set(key, value)


class FailedCopy(InMemoryStore):
    """The first copy of a decision fails (as if its decider died after taking it)."""

    failed = False

    async def state_set(self, key: str, value: str) -> None:
        if key.startswith("approval-decision:") and not self.failed:
            self.failed = True
            raise StoreError("the process died (simulated)")
        await super().state_set(key, value)


@asynccontextmanager
async def admin_api(
    store: InMemoryStore,
) -> AsyncIterator[tuple[list[str], InMemoryConnector, Decide]]:
    """A banker runner on ``store`` with the admin API: (runs, chat, decide)."""
    runs: list[str] = []
    agent, _ = make_agent(runs.append)
    assert agent.approvals is not None
    chat = InMemoryConnector()
    runtime = make([chat], [chat], agent, store=store)
    app = web.Application()
    app.add_routes(approval_routes(agent.approvals, runtime.store, runtime.sink))
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/approvals"
    try:
        async with (
            running(runtime),
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        ):

            async def decide(approval_id: str, verdict: str) -> int:
                body = {"decision": verdict, "approver": "ops"}
                async with http.post(f"{url}/{approval_id}", json=body) as response:
                    return response.status

            yield runs, chat, decide
    finally:
        await runner.cleanup()


async def asked(chat: InMemoryConnector) -> str:
    """The approval id the banker asked for, after "send 500 to bob"."""
    await chat.push("send 500 to bob", conversation_id="c1", author={"id": "ada"})
    [approval_id] = APPROVAL_ID.findall((await chat.wait_for_replies(1))[0][1].text)
    return str(approval_id)


@pytest.mark.parametrize(("second", "status"), [("approve", 200), ("deny", 409)])
async def test_a_decider_that_loses_the_decision_sees_the_winners_decision(
    second: str, status: int
) -> None:
    store = HeldRecord()
    async with admin_api(store) as (runs, chat, decide):
        approval_id = await asked(chat)
        first = asyncio.create_task(decide(approval_id, "approve"))
        try:
            await asyncio.wait_for(store.held.wait(), 10)  # decided, not yet copied
            # the other is answered while the winner's copy waits
            assert await asyncio.wait_for(decide(approval_id, second), 10) == status
        finally:
            store.release.set()
        assert await first == 200
        sent = await chat.wait_for_replies(2)
        assert sent[1][1].text == "done: sent 500 to bob"
    assert runs == ["bob:500"]


async def test_a_decision_whose_decider_failed_after_taking_it_is_not_lost() -> None:
    async with admin_api(FailedCopy()) as (runs, chat, decide):
        approval_id = await asked(chat)
        assert await decide(approval_id, "approve") == 500  # took the decision, then failed
        assert await decide(approval_id, "deny") == 409  # decided: approved
        assert await decide(approval_id, "approve") == 200  # the same again: handed over
        sent = await chat.wait_for_replies(2)
        assert sent[1][1].text == "done: sent 500 to bob"
    assert runs == ["bob:500"]
