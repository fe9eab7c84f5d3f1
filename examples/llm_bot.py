"""An LLM bot with tools, memory and a budget, answering over HTTP.

Configure a model endpoint in ``.env`` (any OpenAI-compatible server)::

    LLM_BASE_URL=http://localhost:11434/v1     # Ollama; or OpenRouter, vLLM, llama.cpp
    LLM_MODEL=llama3.1
    # or just OPENAI_API_KEY=sk-... (model gpt-4o-mini unless LLM_MODEL is set)

Run it and talk to it::

    agent-runner run examples/llm_bot.py
    curl -s localhost:8080/v1/messages -H 'content-type: application/json' \\
         -d '{"text": "Roll two dice, then tell me the time in Tokyo.", "conversation_id": "me"}'

The model may call the two tools below; their JSON schemas come from the type hints and the
docstrings. Each conversation remembers its last turns; spending stops at the budget.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from agent_runner import AgentRuntime, ConfigurationError
from agent_runner.llm import LLMAgent, agent_from_env
from agent_runner.memory import ShortTermMemory
from agent_runner.pricing import Budget, ModelPrice, Pricing
from agent_runner.replicas import runtime_from_env, store_from_env
from agent_runner.settings import load_settings
from connectors.http import HTTPConnector

SYSTEM_PROMPT = (
    "You are a friendly assistant. Use the tools when they help; answer briefly. "
    "Never invent a tool result."
)


def roll_dice(
    count: Annotated[int, Field(ge=1, le=10)] = 1,
    sides: Annotated[int, Field(ge=2, le=100)] = 6,
) -> list[int]:
    """Roll dice.

    Args:
        count: how many dice to roll.
        sides: how many sides each die has.
    """
    return [random.randint(1, sides) for _ in range(count)]  # a game, not cryptography


async def current_time(timezone: str = "UTC") -> str:
    """The current date and time in a timezone.

    Args:
        timezone: an IANA timezone name, e.g. "Europe/Paris" or "Asia/Tokyo".
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown timezone {timezone!r}; use an IANA name like 'Europe/Paris'"
    return datetime.now(zone).strftime("%A %Y-%m-%d %H:%M %Z")


def build_agent() -> LLMAgent:
    agent = agent_from_env(system_prompt=SYSTEM_PROMPT, tools=[roll_dice, current_time])
    if agent is None:
        raise ConfigurationError(
            "no model endpoint: set LLM_BASE_URL and LLM_MODEL, or OPENAI_API_KEY, in .env"
        )
    return agent


def build_runtime(agent: LLMAgent, http: HTTPConnector) -> AgentRuntime:
    pricing = Pricing(
        prices={"gpt-4o-mini": ModelPrice(input_per_million=0.15, output_per_million=0.60)},
        default_price=ModelPrice(input_per_million=0.0, output_per_million=0.0),  # local models
        budget=Budget(per_conversation=0.05, per_day=2.0),
    )
    return AgentRuntime(
        inputs=[http],
        outputs=[http],
        agent=agent,
        short_term_memory=ShortTermMemory(max_messages=30, max_tokens=3000),
        pricing=pricing,
        store=store_from_env(),  # REDIS_URL set: Redis, shared by replicas
        runtime=runtime_from_env(),
    )


agent = build_agent()
http = HTTPConnector.from_env()
runtime = build_runtime(agent, http)

if __name__ == "__main__":
    logging.basicConfig(level=load_settings().log_level)
    asyncio.run(runtime.run())
