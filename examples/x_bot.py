"""An X (Twitter) bot: answers its mentions in thread and posts once a day.

Put the bot account's keys in ``.env`` (see ``.env.example``)::

    X_API_KEY=...               # OAuth 1.0a consumer key (the app's "API key")
    X_API_SECRET=...
    X_ACCESS_TOKEN=...          # the bot account's access token (read and write)
    X_ACCESS_TOKEN_SECRET=...
    X_POLL_INTERVAL=60          # seconds between mention polls
    X_DAILY_POST_CAP=50         # stay inside a limited API tier
    X_DRY_RUN=true              # log instead of posting, until you trust it

Run it::

    agent-runner run examples/x_bot.py      # or: python examples/x_bot.py

With ``LLM_BASE_URL``/``LLM_MODEL`` or ``LLM_API_KEY`` set, a model writes the replies and
the daily post; without, an offline agent answers. Try it offline against the fake X::

    python examples/x_bot.py --fake        # a fake X on 127.0.0.1 and three mentions
"""

from __future__ import annotations

import asyncio
import logging
import sys

from agent_runner import Agent, AgentContext, AgentFunction, AgentRuntime, Message
from agent_runner.memory import ShortTermMemory
from agent_runner.replicas import runtime_from_env, store_from_env
from agent_runner.settings import load_settings
from agent_runner.store import InMemoryStore, Store
from connectors.cron import CronInput, CronJob
from connectors.x import XConnector

SYSTEM_PROMPT = (
    "You are a friendly bot on X. Answer mentions briefly and helpfully; a long answer is "
    "posted as a thread. When the message is the daily post request, write one post for "
    "your followers."
)
DAILY_POST = "Write today's post for your followers."


class OfflineAgent:
    """Answers without a model: enough to see the wiring work."""

    async def execute(self, message: Message, context: AgentContext) -> str:
        if message.source == "cron":
            return f"Daily update for {message.created_at:%A %d %B}: still here, still polling."
        return f"Thanks @{message.author.name or 'there'}! You said: {message.text}"


def build_agent() -> Agent | AgentFunction:
    try:
        from agent_runner.llm import agent_from_env
    except ImportError:
        return OfflineAgent()
    return agent_from_env(system_prompt=SYSTEM_PROMPT) or OfflineAgent()


def build_runtime(x: XConnector | None = None, store: Store | None = None) -> AgentRuntime:
    x = x or XConnector.from_env()
    daily = CronInput([CronJob(name="daily-post", text=DAILY_POST, cron="0 9 * * *")])
    return AgentRuntime(
        inputs=[x, daily],
        outputs=[x],
        agent=build_agent(),
        short_term_memory=ShortTermMemory(),
        store=store or store_from_env(),  # REDIS_URL set: Redis, shared by replicas
        runtime=None if store else runtime_from_env(),
        routes={"cron": ["x"]},  # mentions are answered on X by default; cron posts go there too
    )


async def offline_demo() -> None:
    """The same bot against agent_runner.testing.x.FakeX: three mentions, three replies."""
    from agent_runner.testing.x import FakeX

    async with FakeX() as fake:
        x = XConnector.from_env(fake.env(), poll_interval=0.2)
        runtime = build_runtime(x, InMemoryStore())  # the fake's tweet ids restart each run
        task = asyncio.create_task(runtime.run())
        await runtime.wait_started()
        await fake.wait_calls("mentions", 1)
        for who, text in [("alice", "hi!"), ("bob", "what do you do?"), ("carol", "bye")]:
            fake.add_mention(text, author=who)
        for tweet in await fake.wait_posted(3, timeout=30):
            print(f"posted {tweet.id} in reply to {tweet.in_reply_to_tweet_id}: {tweet.text}")
        await runtime.stop()
        await task


if __name__ == "__main__":
    logging.basicConfig(level=load_settings().log_level)
    asyncio.run(offline_demo() if "--fake" in sys.argv else build_runtime().run())
else:  # imported by `agent-runner run examples/x_bot.py`
    runtime = build_runtime()
