"""LLMAgent with MCP tools, end to end: InMemoryConnector -> AgentRuntime -> LLMAgent
(ScriptedModelClient) -> a real MCP server over stdio -> the reply; the runtime's stop
closes the agent, which closes the server and its child."""

from __future__ import annotations

from pathlib import Path

from agent_runner.llm import LLMAgent, ModelRequest, ScriptedModelClient, ToolCall
from agent_runner.store import InMemoryStore
from connectors.inmemory import InMemoryConnector
from tests.mcp.support import alive, pid_in, stdio_server
from tests.runner.support import make, running


def local_time(city: str) -> str:
    """The local time in a city."""
    return f"12:00 in {city}"


def answer_with_results(request: ModelRequest) -> str:
    results = [m.content for m in request.messages if m.role == "tool"]
    return "The results: " + " | ".join(str(r) for r in results)


async def test_the_model_calls_an_mcp_tool_and_answers_with_its_result(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    model = ScriptedModelClient(
        [
            [
                ToolCall.of("m_add", {"a": 19, "b": 23}),
                ToolCall.of("local_time", {"city": "Oslo"}),
                ToolCall.of("m_fail", {"reason": "the printer is on fire"}),
            ],
            answer_with_results,
        ]
    )
    mcp = stdio_server(pidfile, prefix="m_", deny=["admin.*", "slow", "grow"])
    agent = LLMAgent(model, system_prompt="You add numbers.", tools=[local_time, mcp])
    chat = InMemoryConnector()
    runtime = make([chat], [chat], agent, store=InMemoryStore())
    async with running(runtime):
        await chat.push("What is 19 + 23?", conversation_id="c1")
        await chat.wait_for_replies(1, timeout=30)
        child = pid_in(pidfile)
    failure = "Error: Error executing tool fail: the printer is on fire"  # the server's words
    assert chat.replies_to("c1") == [f"The results: 42 | 12:00 in Oslo | {failure}"]
    offered = {tool.name for tool in model.requests[0].tools}
    assert offered == {"local_time", "m_add", "m_echo", "m_fail", "m_picture", "m_pid"}
    add = next(tool for tool in model.requests[0].tools if tool.name == "m_add")
    assert add.description == "Add two integers."
    assert add.parameters["required"] == ["a", "b"]
    assert child is not None and not alive(child)  # stopping the runtime closed the server
