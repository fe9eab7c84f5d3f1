"""A Slack bot: answers @-mentions in channels (in the thread) and direct messages.

Create a Slack app (Socket Mode on; bot scopes ``app_mentions:read``, ``chat:write``,
``im:history``; events ``app_mention`` and ``message.im``; an app-level token with
``connections:write``), install it, then put in ``.env`` (see ``.env.example``)::

    SLACK_BOT_TOKEN=xoxb-...          # the bot token
    SLACK_APP_TOKEN=xapp-...          # Socket Mode (or SLACK_SIGNING_SECRET for the Events API)
    SLACK_CHANNEL_IDS=C123            # optional: only these channels (default: all)

Run it::

    agent-runner run examples/slack_bot.py      # or: python examples/slack_bot.py

With ``LLM_BASE_URL``/``LLM_MODEL`` or ``LLM_API_KEY`` set, a model answers (streamed into
the thread as it is written); without, an offline echo agent does. Try it offline against
the fake Slack::

    python examples/slack_bot.py --fake
"""

from __future__ import annotations

import asyncio
import logging
import sys

from agent_runner import Agent, AgentContext, AgentFunction, AgentRuntime, Button, Message, Reply
from agent_runner.memory import ShortTermMemory
from agent_runner.replicas import runtime_from_env, store_from_env
from agent_runner.settings import load_settings
from agent_runner.store import InMemoryStore, Store
from connectors.slack import SlackConnector

SYSTEM_PROMPT = (
    "You are a helpful Slack bot. Answer briefly; use **bold**, `code` and code blocks where "
    "they help. You see the recent messages of this thread as context."
)


class EchoAgent:
    """Answers without a model: enough to see the wiring work (and a button)."""

    async def execute(self, message: Message, context: AgentContext) -> Reply | str:
        who = message.author.name or message.author.id
        if "button" in message.metadata:
            return f"{who} pressed {message.text}"
        if message.text.strip().lower() == "menu":
            buttons = (Button(label="Tea", value="tea"), Button(label="Coffee", value="coffee"))
            return Reply(text="Pick one:", buttons=buttons)
        return f"{who} said: {message.text}"


def build_agent() -> Agent | AgentFunction:
    """A model-backed agent when an endpoint is configured, else the offline echo agent."""
    try:
        from agent_runner.llm import agent_from_env
    except ImportError:  # installed without the llm extra
        return EchoAgent()
    return agent_from_env(system_prompt=SYSTEM_PROMPT) or EchoAgent()


def build_runtime(slack: SlackConnector | None = None, store: Store | None = None) -> AgentRuntime:
    slack = slack or SlackConnector()  # SLACK_* from the environment
    return AgentRuntime(
        inputs=[slack],
        outputs=[slack],
        agent=build_agent(),
        short_term_memory=ShortTermMemory(max_messages=20),
        store=store or store_from_env(),  # REDIS_URL set: Redis, shared by replicas
        runtime=None if store else runtime_from_env(),
    )


async def offline_demo() -> None:
    """The same bot against agent_runner.testing.slack.FakeSlack."""
    from agent_runner.testing.slack import FakeSlack

    async with FakeSlack() as fake:
        slack = SlackConnector(
            bot_token=fake.bot_token, app_token=fake.app_token, api_base=fake.url
        )
        runtime = build_runtime(slack, InMemoryStore())
        task = asyncio.create_task(runtime.run())
        await runtime.wait_started()
        await fake.wait_until(lambda: fake.connections == 1, timeout=30)
        await fake.post_user_message(fake.dm, "hello bot!")
        await fake.post_user_message(fake.channel, "nobody mentioned you")
        await fake.post_user_message(fake.channel, "what's up?", mention_bot=True)
        await fake.post_user_message(fake.dm, "menu")
        await fake.wait_for_messages(fake.channel, 1, timeout=30)
        [_, menu] = await fake.wait_for_messages(fake.dm, 2, timeout=30)
        await fake.press_button(menu, "coffee")
        await fake.wait_for_messages(fake.dm, 3, timeout=30)
        for channel in (fake.dm, fake.channel):
            for reply in fake.sent_in(channel):
                labels = ", ".join(label for label, _ in reply.buttons)
                buttons = f" [{labels}]" if labels else ""
                where = f"thread {reply.thread_ts}" if reply.thread_ts else channel
                print(f"bot replied in {where}: {reply.text}{buttons}")
        await runtime.stop()
        await task


if __name__ == "__main__":
    from dotenv import load_dotenv

    load_dotenv()
    logging.basicConfig(level=load_settings().log_level)
    asyncio.run(offline_demo() if "--fake" in sys.argv else build_runtime().run())
else:  # imported by `agent-runner run examples/slack_bot.py`
    runtime = build_runtime()
