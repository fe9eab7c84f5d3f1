"""The embedded default bot: HTTP on 127.0.0.1:8080, an hourly heartbeat, SQLite. Offline.

With ``REDIS_URL`` set it keeps its store in Redis and shares its conversations with every
other process of it on that Redis: run it three times behind a load balancer to scale
(``docs/how-to/replicas.md``).

Start it (no keys needed)::

    make run                              # or: agent-runner run examples/run.py

Talk to it::

    curl -s localhost:8080/v1/messages -H 'content-type: application/json' \\
         -d '{"text": "hello", "conversation_id": "me"}'
    # {"id": "...", "conversation_id": "me",
    #  "replies": [{"text": "You said 'hello' (message 1 in this conversation)"}]}

Any OpenAI client works too (``base_url="http://localhost:8080/v1"``). With
``LLM_BASE_URL``/``LLM_MODEL`` or ``LLM_API_KEY`` set (in ``.env``), a model answers instead
of the offline echo agent. Every setting is listed in ``.env.example``.

``agent-runner run`` imports this file and runs its ``runtime``; ``python examples/run.py``
works too.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from agent_runner import (
    Agent,
    AgentContext,
    AgentFunction,
    AgentRuntime,
    BaseConnector,
    Message,
    Reply,
)
from agent_runner.memory import ShortTermMemory
from agent_runner.replicas import runtime_from_env, store_from_env
from agent_runner.settings import load_settings
from connectors.cron import CronInput, CronJob
from connectors.http import HTTPConnector

SYSTEM_PROMPT = (
    "You are the agent-runner demo bot. Answer briefly and helpfully. When a message is a "
    "scheduled heartbeat, reply with one short status line."
)


class EchoAgent:
    """The offline agent: echoes, counts the conversation's messages, remembers the last one."""

    async def execute(self, message: Message, context: AgentContext) -> str:
        if message.source == "cron":
            return f"heartbeat: alive at {message.created_at:%Y-%m-%d %H:%M} UTC"
        key = f"count:{message.conversation_key}"
        count = int(await context.store.state_get(key) or 0) + 1
        await context.store.state_set(key, str(count))
        reply = f"You said {message.text!r} (message {count} in this conversation)"
        earlier = (item.text for item in reversed(context.memory.messages) if item.role == "user")
        last = next(earlier, None)  # the latest user turn, found from the end
        if last is not None:
            reply += f"; before that you said {last!r}"
        return reply


class LogOutput(BaseConnector):
    """An output that writes replies to the log (where the heartbeat goes)."""

    name = "log"

    async def send(self, request: Message, response: Reply) -> None:
        logging.getLogger("examples.run").info("%s -> %s", request.key, response.text)


def build_agent() -> Agent | AgentFunction:
    """A model-backed agent when an endpoint is configured, else the offline echo agent."""
    try:
        from agent_runner.llm import agent_from_env
    except ImportError:  # installed without the llm extra
        return EchoAgent()
    return agent_from_env(system_prompt=SYSTEM_PROMPT) or EchoAgent()


def build_runtime() -> AgentRuntime:
    settings = load_settings()
    http = HTTPConnector.from_env()
    heartbeat = CronInput(
        [CronJob(name="heartbeat", text="heartbeat", interval=timedelta(hours=1))]
    )
    log = LogOutput()
    return AgentRuntime(
        inputs=[http, heartbeat],
        outputs=[http, log],
        agent=build_agent(),
        short_term_memory=ShortTermMemory(),
        store=store_from_env(settings),  # REDIS_URL set: Redis, shared by replicas
        runtime=runtime_from_env(settings),
        routes={"cron": ["log"]},
    )


runtime = build_runtime()

if __name__ == "__main__":
    logging.basicConfig(level=load_settings().log_level)
    asyncio.run(runtime.run())
