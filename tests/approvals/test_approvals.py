"""Approvals end to end in one process: the real runner and stores, LLMAgent with a scripted
model, a gated tool; decided from the chat and through the admin API over real HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from agent_runner import AgentRuntime
from agent_runner.approvals import Approvals, approval_routes, canonical_json, digest
from agent_runner.llm import LLMAgent, ModelRequest, ScriptAnswer, ScriptedModelClient, ToolCall
from agent_runner.memory import ShortTermMemory
from agent_runner.schedules import FollowUpInput, FollowUps
from agent_runner.store import InMemoryStore, Store
from connectors.inmemory import InMemoryConnector
from tests.approvals.support import APPROVAL_ID, make_agent
from tests.mcp.support import stdio_server
from tests.runner.support import make, running


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def ask(
    chat: InMemoryConnector, text: str, count: int, *, author: str = "ada", wait: float = 30
) -> str:
    """Push ``text`` (as ``author``) and return the ``count``-th reply's text."""
    await chat.push(text, conversation_id="c1", author={"id": author})
    sent = await chat.wait_for_replies(count, timeout=wait)
    return sent[count - 1][1].text


async def test_a_gated_call_waits_for_approval_then_runs_once(store: Store) -> None:
    runs: list[str] = []
    agent, _ = make_agent(runs.append)
    chat = InMemoryConnector()
    async with running(
        make([chat], [chat], agent, store=store, short_term_memory=ShortTermMemory())
    ):
        request = await ask(chat, "send 500 to bob", 1)
        [approval_id] = APPROVAL_ID.findall(request)
        assert runs == []
        reply = chat.sent[0][1]
        assert [b.value for b in reply.buttons] == [f"approve {approval_id}", f"deny {approval_id}"]
        assert await ask(chat, f"approve {approval_id}", 2) == "done: sent 500 to bob"
        assert runs == ["bob:500"]
        again = await ask(chat, f"approve {approval_id}", 3)
        assert "before" in again and runs == ["bob:500"]
        assert await ask(chat, "send 50 to eve", 4) == "done: sent 50 to eve"  # below: no ask
    assert runs == ["bob:500", "eve:50"]


async def test_a_refused_or_expired_approval_never_runs_the_call(store: Store) -> None:
    runs: list[str] = []
    clock = Clock()
    agent, client = make_agent(runs.append, ttl=60, clock=clock)
    chat = InMemoryConnector()
    async with running(make([chat], [chat], agent, store=store)):
        first = APPROVAL_ID.findall(await ask(chat, "send 500 to bob", 1))[0]
        assert "denied" in await ask(chat, f"deny {first}", 2)
        second = APPROVAL_ID.findall(await ask(chat, "send 700 to bob", 3))[0]
        clock.now += 61
        assert "expired" in await ask(chat, f"approve {second}", 4)
    assert runs == []
    told = [m.content for m in client.requests[-1].messages if m.role == "tool"]
    assert told and "expired" in (told[-1] or "")


async def test_only_allowed_approvers_decide(store: Store) -> None:
    runs: list[str] = []
    agent, _ = make_agent(runs.append, approvers=["boss"])
    chat = InMemoryConnector()
    async with running(make([chat], [chat], agent, store=store)):
        approval_id = APPROVAL_ID.findall(await ask(chat, "send 500 to bob", 1))[0]
        refusal = await ask(chat, f"approve {approval_id}", 2, author="ada")
        assert "may not decide" in refusal and runs == []
        assert (
            await ask(chat, f"approve {approval_id}", 3, author="boss") == "done: sent 500 to bob"
        )
    assert runs == ["bob:500"]


async def test_two_gated_calls_in_one_step_resume_when_both_are_decided(store: Store) -> None:
    runs: list[str] = []
    agent, _ = make_agent(runs.append)
    chat = InMemoryConnector()
    async with running(make([chat], [chat], agent, store=store)):
        request = await ask(chat, "send 500 to bob and send 20 to eve and send 900 to joe", 1)
        bob, joe = APPROVAL_ID.findall(request)
        assert runs == ["eve:20"]  # below the limit: run at once, its result kept
        assert "waiting for" in await ask(chat, f"approve {bob}", 2)
        final = await ask(chat, f"deny {joe}", 3)
    assert final.startswith("done: sent 500 to bob | sent 20 to eve | Error: ada denied")
    assert runs == ["eve:20", "bob:500"]


async def test_arguments_changed_after_approval_are_not_run(store: Store) -> None:
    runs: list[str] = []
    agent, _ = make_agent(runs.append)
    chat = InMemoryConnector()
    runtime = make([chat], [chat], agent, store=store)
    async with running(runtime):
        approval_id = APPROVAL_ID.findall(await ask(chat, "send 500 to bob", 1))[0]
        raw = await store.state_get(f"approval:{approval_id}")
        assert raw is not None
        record = json.loads(raw)
        assert record["digest"] == digest(canonical_json({"amount": 500, "to": "bob"}))
        record["arguments"] = canonical_json({"amount": 5000, "to": "mallory"})
        await store.state_set(f"approval:{approval_id}", json.dumps(record))
        reply = await ask(chat, f"approve {approval_id}", 2)
    assert "arguments changed" in reply and runs == []


@pytest.fixture
async def admin_url(
    store: Store,
) -> AsyncIterator[tuple[str, AgentRuntime, InMemoryConnector, list[str]]]:
    runs: list[str] = []
    agent, _ = make_agent(runs.append)
    assert agent.approvals is not None
    chat = InMemoryConnector()
    runtime = make([chat], [chat], agent, store=store)
    app = web.Application()
    app.add_routes(approval_routes(agent.approvals, runtime.store, runtime.sink))
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with running(runtime):
            yield f"http://127.0.0.1:{port}/api/approvals", runtime, chat, runs
    finally:
        await runner.cleanup()


async def test_the_admin_api_decides_and_the_turn_resumes_in_the_chat(
    admin_url: tuple[str, AgentRuntime, InMemoryConnector, list[str]],
) -> None:
    url, _, chat, runs = admin_url
    approval_id = APPROVAL_ID.findall(await ask(chat, "send 500 to bob", 1))[0]
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        async with http.get(f"{url}/{approval_id}") as response:
            assert response.status == 200
            assert (await response.json())["status"] == "pending"
        decision = {"decision": "approve", "approver": "ops"}
        async with http.post(f"{url}/{approval_id}", json=decision) as response:
            assert response.status == 200
            assert (await response.json())["decided_by"] == "admin:ops"
        sent = await chat.wait_for_replies(2)
        assert sent[1][1].text == "done: sent 500 to bob"
        assert sent[1][0].conversation_id == "c1"
        async with http.post(f"{url}/{approval_id}", json=decision) as response:
            assert response.status == 200  # the same decision again: harmless
        async with http.post(f"{url}/{approval_id}", json={"decision": "deny"}) as response:
            assert response.status == 409
        async with http.post(f"{url}/0123456789", json=decision) as response:
            assert response.status == 404
        async with http.post(f"{url}/{approval_id}", data=b"not json") as response:
            assert response.status == 400
        async with http.post(f"{url}/{approval_id}", json={"decision": "maybe"}) as response:
            assert response.status == 400
    assert runs == ["bob:500"]


def test_approvals_settings_are_checked() -> None:
    with pytest.raises(Exception, match="ttl"):
        Approvals(ttl=0)


async def test_an_mcp_servers_tool_can_require_approval_by_a_predicate(tmp_path: Path) -> None:
    def model(request: ModelRequest) -> ScriptAnswer:
        last = request.messages[-1]
        if last.role == "tool":
            return f"sum: {last.content}"
        a, b = (int(n) for n in (last.content or "").split("+"))
        return ToolCall.of("add", {"a": a, "b": b})

    big = {"add": lambda args: args["a"] + args["b"] > 100, "echo": True}
    server = stdio_server(tmp_path / "pid", allow=["add", "echo"], requires_approval=big)
    agent = LLMAgent(
        ScriptedModelClient(default=model),
        system_prompt="Add.",
        tools=[server],
        approvals=Approvals(),
    )
    chat = InMemoryConnector()
    async with running(make([chat], [chat], agent, store=InMemoryStore())):
        assert await ask(chat, "2+3", 1, wait=30) == "sum: 5"  # small: no approval
        approval_id = APPROVAL_ID.findall(await ask(chat, "70+80", 2))[0]
        assert await ask(chat, f"approve {approval_id}", 3) == "sum: 150"
        tools = {tool.name: tool for tool in await server.list_tools()}
    assert tools["echo"].requires_approval is True


async def test_an_undecided_approval_resolves_at_its_expiry_through_a_follow_up(
    store: Store,
) -> None:
    runs: list[str] = []
    followups = FollowUps()
    agent, client = make_agent(runs.append, ttl=0.3, followups=followups)
    chat = InMemoryConnector()
    ticker = FollowUpInput(followups, poll=0.05)
    async with running(make([chat, ticker], [chat], agent, store=store)):
        approval_id = APPROVAL_ID.findall(await ask(chat, "send 500 to bob", 1))[0]
        told = (await chat.wait_for_replies(2, timeout=30))[1]
        assert told[0].text == f"expire {approval_id}"
        assert told[1].text.startswith("done: Error: nobody approved this call")
        late = await ask(chat, f"approve {approval_id}", 3)
        assert "expired" in late and "before" in late
    assert runs == []
