"""Tutorial step 3: a model answers, and may call a tool.

python bot_model.py --fake     # a scripted model: no key, no network
agent-runner run bot_model.py  # a real model: LLM_* or OPENAI_API_KEY in .env
"""

import asyncio
import random
import sys

from agent_runner import AgentRuntime
from agent_runner.llm import (
    LLMAgent,
    ModelClient,
    ScriptedModelClient,
    ToolCall,
    agent_from_env,
)
from agent_runner.memory import ShortTermMemory
from agent_runner.store import InMemoryStore
from connectors.inmemory import InMemoryConnector


def roll_dice(count: int = 1, sides: int = 6) -> list[int]:
    """Roll dice.

    Args:
        count: how many dice to roll.
        sides: how many sides each die has.
    """
    return [random.randint(1, sides) for _ in range(count)]


SYSTEM_PROMPT = "You are a friendly game master. Use the dice tool to roll dice."


def build_agent(client: ModelClient) -> LLMAgent:
    # The tool's JSON schema comes from its type hints and docstring.
    return LLMAgent(client, system_prompt=SYSTEM_PROMPT, tools=[roll_dice])


async def with_a_scripted_model() -> None:
    client = ScriptedModelClient(
        [
            # first a call of the tool, then an answer from its result
            ToolCall.of("roll_dice", {"count": 2}),
            lambda request: f"You rolled {request.messages[-1].content}.",
        ]
    )
    # an input and output in memory, going through the whole runner
    chat = InMemoryConnector()
    runtime = AgentRuntime(
        inputs=[chat],
        outputs=[chat],
        agent=build_agent(client),
        short_term_memory=ShortTermMemory(max_messages=20),
        store=InMemoryStore(),
    )
    task = asyncio.create_task(runtime.run())
    await runtime.wait_started()
    await chat.push("roll two dice for me", conversation_id="me")
    ((_, reply),) = await chat.wait_for_replies(1)
    print(f"bot: {reply.text}")
    await runtime.stop()
    await task


if __name__ == "__main__" and "--fake" in sys.argv:
    asyncio.run(with_a_scripted_model())
elif __name__ != "__main__":  # imported by `agent-runner run bot_model.py`
    from connectors.http import HTTPConnector

    # the model from the LLM_* settings (or OPENAI_API_KEY)
    llm_agent = agent_from_env(system_prompt=SYSTEM_PROMPT, tools=[roll_dice])
    if llm_agent is None:
        raise SystemExit("set LLM_BASE_URL and LLM_MODEL, or OPENAI_API_KEY")
    http = HTTPConnector.from_env()
    runtime = AgentRuntime(
        inputs=[http],
        outputs=[http],
        agent=llm_agent,
        short_term_memory=ShortTermMemory(max_messages=20),
    )
