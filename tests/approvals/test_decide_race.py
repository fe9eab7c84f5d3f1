"""Two admin decisions of one approval at once, with the gap between the winner's claim and
its record held open: the loser sees what the winner decided (the same decision: 200, as a
repeat; another: 409), and the call runs once. Deterministic form of the race that
test_restart's two-processes test meets now and then."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from agent_runner.approvals import approval_routes
from agent_runner.store import InMemoryStore
from connectors.inmemory import InMemoryConnector
from tests.approvals.support import APPROVAL_ID, make_agent
from tests.runner.support import make, running


class HeldRecord(InMemoryStore):
    """Holds a decider's record of its decision back (after its claim) until released, and
    tells when a decider lost the claim."""

    def __init__(self) -> None:
        super().__init__()
        self.held = asyncio.Event()
        self.lost = asyncio.Event()
        self.release = asyncio.Event()

    async def state_set(self, key: str, value: str) -> None:
        if key.startswith("approval:") and '"decided_by":"admin:' in value:
            self.held.set()
            await self.release.wait()
        await super().state_set(key, value)

    async def reply_claim(self, key: str, output: str) -> bool:
        claimed = await super().reply_claim(key, output)
        if output == "decision" and not claimed:
            self.lost.set()
        return claimed


@pytest.mark.parametrize(("second", "status"), [("approve", 200), ("deny", 409)])
async def test_a_decider_that_loses_the_claim_sees_the_winners_decision(
    second: str, status: int
) -> None:
    runs: list[str] = []
    agent, _ = make_agent(runs.append)
    assert agent.approvals is not None
    chat = InMemoryConnector()
    store = HeldRecord()
    runtime = make([chat], [chat], agent, store=store)
    app = web.Application()
    app.add_routes(approval_routes(agent.approvals, runtime.store, runtime.sink))
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/approvals"

    async def decide(http: aiohttp.ClientSession, approval_id: str, verdict: str) -> int:
        body = {"decision": verdict, "approver": "ops"}
        async with http.post(f"{url}/{approval_id}", json=body) as response:
            return response.status

    try:
        async with running(runtime):
            await chat.push("send 500 to bob", conversation_id="c1", author={"id": "ada"})
            [approval_id] = APPROVAL_ID.findall((await chat.wait_for_replies(1))[0][1].text)
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
                first = asyncio.create_task(decide(http, approval_id, "approve"))
                await asyncio.wait_for(store.held.wait(), 10)  # claimed, not yet recorded
                other = asyncio.create_task(decide(http, approval_id, second))
                await asyncio.wait_for(store.lost.wait(), 10)  # the other lost the claim
                store.release.set()
                assert [await first, await other] == [200, status]
            sent = await chat.wait_for_replies(2)
            assert sent[1][1].text == "done: sent 500 to bob"
    finally:
        await runner.cleanup()
    assert runs == ["bob:500"]
