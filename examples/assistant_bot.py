"""An assistant bot with the issue-16 capabilities, end to end through the real runner.

- a tool from a local MCP server (``assistant_mcp_server.py``, stdio, next to this file);
- an approval-gated tool (``pay``, above 100 EUR) approved through the HTTP admin endpoint
  (``POST /api/approvals/<id>``), after which the paused turn resumes;
- a follow-up the agent schedules for a few seconds later, delivered back to the chat;
- the SQLite store holds the approval and the follow-up (a restart would keep both).

Run offline: ``python examples/assistant_bot.py --fake`` (a scripted model in place of a
real one; it prints each step and exits 0). Without ``--fake`` the model comes from the
environment (``LLM_*``/``OPENAI_API_KEY``, see ``agent_from_env``) and answers freely.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import tempfile
from pathlib import Path

import aiohttp
from aiohttp import web

from agent_runner import AgentRuntime, SQLiteStore
from agent_runner.approvals import Approvals, approval_routes
from agent_runner.llm import (
    LLMAgent,
    ModelRequest,
    ScriptAnswer,
    ScriptedModelClient,
    ToolCall,
    agent_from_env,
    tool,
)
from agent_runner.mcp import MCPServer
from agent_runner.schedules import FollowUpInput, FollowUps, schedule_tools
from connectors.inmemory import InMemoryConnector

HERE = Path(__file__).resolve().parent
ASK = "Convert 250 EUR to USD, pay Alice 250 EUR, and remind me to check in 2 seconds."
PAID: list[str] = []


@tool(requires_approval=lambda args: args["amount"] > 100)
async def pay(to: str, amount: float) -> str:
    """Pay someone, in euros.

    Args:
        to: who gets the money.
        amount: how much, in EUR.
    """
    PAID.append(f"{to}:{amount:g}")
    return f"paid {amount:g} EUR to {to}"


def scripted(request: ModelRequest) -> ScriptAnswer:
    """The offline model: what a real one would do with ASK, step by step."""
    messages = request.messages
    last = messages[-1]
    if last.role == "user" and last.content == ASK:
        return [
            ToolCall.of("convert", {"amount": 250, "to": "USD"}, id="call_convert"),
            ToolCall.of(
                "schedule", {"text": "check the payment", "delay_seconds": 2}, id="call_remind"
            ),
            ToolCall.of("pay", {"to": "Alice", "amount": 250}, id="call_pay"),
        ]
    if last.role == "tool":
        results = {m.tool_call_id: m.content for m in messages if m.role == "tool"}
        return f"{results['call_convert']}; {results['call_pay']}; reminder set."
    return f"Reminder: {last.content} (Alice was paid: {bool(PAID)})."


def say(step: str) -> None:
    sys.stdout.write(f"[assistant] {step}\n")
    sys.stdout.flush()


async def main(fake: bool) -> int:
    mcp = MCPServer.stdio(sys.executable, [str(HERE / "assistant_mcp_server.py")], name="tools")
    followups = FollowUps(window=30)
    approvals = Approvals(ttl=600)
    tools = [pay, mcp, *schedule_tools(followups)]
    system = "You are a careful assistant. Use the tools."
    if fake:
        model = ScriptedModelClient(default=scripted)
        agent: LLMAgent | None = LLMAgent(
            model, system_prompt=system, tools=tools, approvals=approvals
        )
    else:
        agent = agent_from_env(system_prompt=system, tools=tools, approvals=approvals)
    if agent is None:
        say("no model configured: set LLM_API_KEY (or OPENAI_API_KEY), or pass --fake")
        return 2
    chat = InMemoryConnector()
    with tempfile.TemporaryDirectory() as data:
        store = SQLiteStore(Path(data) / "assistant.sqlite3")
        runtime = AgentRuntime(
            [chat, FollowUpInput(followups, poll=0.2)],
            [chat],
            agent,
            store=store,
            handle_signals=False,
        )
        admin = web.Application()
        admin.add_routes(approval_routes(approvals, store, runtime.sink))
        site = web.AppRunner(admin, handle_signals=False)
        await site.setup()
        await web.TCPSite(site, "127.0.0.1", 0).start()
        admin_url = f"http://127.0.0.1:{site.addresses[0][1]}/api/approvals"
        task = asyncio.create_task(runtime.run())
        try:
            await runtime.wait_started()
            say(f"user: {ASK}")
            await chat.push(ASK, conversation_id="demo", author={"id": "ada"})
            [(_, request)] = await chat.wait_for_replies(1, timeout=60.0)
            say(f"bot: {request.text}")
            say(f"buttons: {[b.label for b in request.buttons]}")
            found = re.search(r"approve ([0-9a-f]{10})", request.text)
            if found is None:
                say("no approval was asked for")
                return 1
            timeout = aiohttp.ClientTimeout(total=30)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                body = {"decision": "approve", "approver": "ops"}
                async with http.post(f"{admin_url}/{found.group(1)}", json=body) as response:
                    decided = await response.json()
            say(f"admin API: POST .../{found.group(1)} -> {response.status} {decided['status']}")
            sent = await chat.wait_for_replies(2, timeout=60.0)
            say(f"bot (resumed): {sent[1][1].text}")
            say(f"scheduled: {[f.describe() for f in await followups.scheduled(store)]}")
            sent = await chat.wait_for_replies(3, timeout=60.0)
            say(f"follow-up from {sent[2][0].author.id}: {sent[2][1].text}")
        finally:
            await runtime.stop()
            await task
            await site.cleanup()
    say(f"paid: {json.dumps(PAID)}")
    return 0 if PAID == ["Alice:250"] else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--fake", action="store_true", help="a scripted model, offline")
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(main(parser.parse_args().fake)))
