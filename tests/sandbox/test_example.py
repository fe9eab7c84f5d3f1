"""examples/sandbox_tool.py runs offline: the scripted model's code runs in the sandbox."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from agent_runner.llm import LLMAgent
from agent_runner.sandbox import Sandbox

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sandbox_tool.py"


@pytest.mark.usefixtures("bubblewrap")  # the example picks bubblewrap when it works
async def test_the_example_answers_from_the_sandboxed_run() -> None:
    spec = importlib.util.spec_from_file_location("sandbox_tool_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    answer = await module.main()
    assert answer == "[bubblewrap] I ran it in the sandbox: 15 primes, the largest 47."
    agent = module.build_agent(Sandbox(isolation="fallback"))
    assert isinstance(agent, LLMAgent) and agent.tools["run_python"].requires_approval is True
