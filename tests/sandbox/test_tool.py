"""The sandbox as LLMAgent tools: the model's code runs, its result goes back to the model."""

from __future__ import annotations

from agent_runner.llm import LLMAgent, ScriptedModelClient, ToolCall
from agent_runner.sandbox import Sandbox, sandbox_tools
from tests.llm.support import make_context, message


async def test_the_model_runs_code_and_reads_the_result(sandbox: Sandbox) -> None:
    client = ScriptedModelClient(
        [
            ToolCall.of("run_python", {"code": "print(sum(range(10)))\nopen('n', 'w').write('x')"}),
            "The sum is 45.",
        ]
    )
    agent = LLMAgent(client, system_prompt="Use Python.", tools=sandbox_tools(sandbox))
    msg = message("add 0..9")
    reply = await agent.execute(msg, make_context(msg))
    assert reply == "The sum is 45."
    result = client.requests[1].messages[-1]
    assert result.role == "tool" and result.content is not None
    assert result.content.startswith("exit status 0\n--- stdout ---\n45\n")
    assert "n (1 bytes):\nx" in result.content


def test_the_tools_require_approval_and_shell_only_when_allowed(fallback: Sandbox) -> None:
    (python,) = sandbox_tools(fallback)
    assert python.name == "run_python" and python.requires_approval is True
    assert python.needs_approval({"code": "print(1)"})
    assert "no network" in python.description
    shell = Sandbox(isolation="fallback", allow_shell=True)
    assert [t.name for t in sandbox_tools(shell, requires_approval=False)] == [
        "run_python",
        "run_shell",
    ]
    assert not sandbox_tools(shell, requires_approval=False)[1].needs_approval({"command": "ls"})
