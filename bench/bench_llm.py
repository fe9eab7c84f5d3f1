"""Benchmark the LLM layer's own overhead (not the model's): ``python bench/bench_llm.py``.

1. OpenAIClient.complete vs the raw ``openai`` SDK call it wraps, against the local server.
2. A tool call (validate JSON arguments, run, encode the result): ours vs autogen-core's
   FunctionTool.run_json (needs the ``bench`` extra), for an async and a sync function.
3. LLMAgent messages per second with ScriptedModelClient (one tool call + the answer).

``--quick`` runs fewer iterations.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.llm

from agent_runner.llm import (  # noqa: E402
    ChatMessage,
    LLMAgent,
    OpenAIClient,
    ScriptedModelClient,
    Tool,
    ToolCall,
)
from tests.llm.openai_server import OpenAIServer, text  # noqa: E402
from tests.llm.support import make_context, message  # noqa: E402

QUICK = "--quick" in sys.argv


def out(line: str) -> None:
    sys.stdout.write(line + "\n")


async def rate(label: str, n: int, step: Callable[[], Awaitable[object]]) -> float:
    for _ in range(min(20, n)):
        await step()
    start = time.perf_counter()
    for _ in range(n):
        await step()
    per_second = n / (time.perf_counter() - start)
    out(f"  {label:<44} {per_second:>10,.0f} /s")
    return per_second


async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def add_sync(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def bench_client() -> None:
    import openai

    n = 100 if QUICK else 400
    out(f"client: {n} sequential completions against the local server")
    prompt = [ChatMessage.system("s"), ChatMessage.user("hi")]
    async with OpenAIServer() as server:
        server.default = text("ok")
        raw = openai.AsyncOpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
        ours = OpenAIClient(model="m", base_url=server.base_url, api_key=server.api_key)
        try:
            wire = [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]

            async def raw_call() -> object:
                return await raw.chat.completions.create(model="m", messages=wire)  # type: ignore[arg-type]

            async def our_call() -> object:
                return await ours.complete(prompt)

            baseline = mine = 0.0
            for _ in range(2):  # alternate, keep the best: the machine is shared and noisy
                baseline = max(baseline, await rate("raw openai SDK (baseline)", n, raw_call))
                mine = max(mine, await rate("OpenAIClient.complete", n, our_call))
            out(f"  ratio ours/baseline: {mine / baseline:.2f}x")
        finally:
            await raw.close()
            await ours.close()


async def bench_tools() -> None:
    n = 2_000 if QUICK else 10_000
    out(f"tools: {n} calls each (parse + validate + run + encode)")
    try:
        from autogen_core import CancellationToken
        from autogen_core.tools import FunctionTool

        have_autogen = True
    except ImportError:  # the bench extra is not installed: ours only
        have_autogen = False
    arguments = '{"a": 2, "b": 3}'
    for func in (add, add_sync):
        kind = "async" if func is add else "sync (thread)"
        ours = Tool(func)
        count = n if func is add else n // 5

        async def our_call(tool: Tool = ours) -> object:
            return await tool.run(arguments)

        mine = await rate(f"Tool.run, {kind}", count, our_call)
        if have_autogen:
            theirs = FunctionTool(func, description="Add two integers.")
            token = CancellationToken()

            async def their_call(
                tool: FunctionTool = theirs, token: CancellationToken = token
            ) -> object:
                result = await tool.run_json(json.loads(arguments), token)
                return tool.return_value_as_string(result)

            baseline = await rate(f"autogen-core FunctionTool.run_json, {kind}", count, their_call)
            out(f"  ratio ours/autogen-core: {mine / baseline:.2f}x")


async def bench_agent() -> None:
    n = 500 if QUICK else 3_000
    out(f"agent: {n} messages, each one tool call then the answer (scripted model)")
    client = ScriptedModelClient()
    agent = LLMAgent(client, system_prompt="You are a bench.", tools=[add])
    msg = message("2+3?")
    context = make_context(msg)

    async def one() -> object:
        client.add(ToolCall.of("add", {"a": 2, "b": 3}, id="c"), "5")
        result = await agent.execute(msg, context)
        client.requests.clear()
        return result

    await rate("LLMAgent.execute (2 model steps + 1 tool)", n, one)


async def main() -> None:
    await bench_client()
    await bench_tools()
    await bench_agent()


if __name__ == "__main__":
    asyncio.run(main())
