"""A Discord bot: answers mentions and direct messages, as replies, with typing shown.

Create a bot in the Discord Developer Portal (Bot -> token; enable "Message Content
Intent", or set ``DISCORD_MESSAGE_CONTENT=false``), invite it to your server, then put in
``.env`` (see ``.env.example``)::

    DISCORD_TOKEN=...                 # the bot token
    DISCORD_CHANNEL_IDS=123,456       # optional: only these channels (default: all)
    DISCORD_MENTIONS_ONLY=true        # in servers, answer only mentions and replies

Run it::

    agent-runner run examples/discord_bot.py      # or: python examples/discord_bot.py

With ``LLM_BASE_URL``/``LLM_MODEL`` or ``LLM_API_KEY`` set, a model answers (with the
conversation's recent messages as memory); without, an offline echo agent does. Messages
that arrive while the bot is down are answered when it comes back (backfill), and none is
answered twice. Try it offline against the fake Discord::

    python examples/discord_bot.py --fake         # a fake Discord on 127.0.0.1
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
from connectors.discord import DiscordConnector

SYSTEM_PROMPT = (
    "You are a helpful Discord bot. Answer briefly; use Markdown and code blocks where they "
    "help. You see the recent messages of this channel as context."
)


class EchoAgent:
    """Answers without a model: enough to see the wiring work."""

    async def execute(self, message: Message, context: AgentContext) -> str:
        earlier = [item.text for item in context.memory.messages if item.role == "user"]
        reply = f"{message.author.name or 'you'} said: {message.text}"
        if message.attachments:
            reply += f" (with {len(message.attachments)} attachment(s))"
        if earlier:
            reply += f"\nbefore that: {earlier[-1]}"
        return reply


def build_agent() -> Agent | AgentFunction:
    """A model-backed agent when an endpoint is configured, else the offline echo agent."""
    try:
        from agent_runner.llm import agent_from_env
    except ImportError:  # installed without the llm extra
        return EchoAgent()
    return agent_from_env(system_prompt=SYSTEM_PROMPT) or EchoAgent()


def build_runtime(
    discord: DiscordConnector | None = None, store: Store | None = None
) -> AgentRuntime:
    discord = discord or DiscordConnector()  # DISCORD_* from the environment
    return AgentRuntime(
        inputs=[discord],
        outputs=[discord],
        agent=build_agent(),
        short_term_memory=ShortTermMemory(max_messages=20),
        store=store or store_from_env(),  # REDIS_URL set: Redis, shared by replicas
        runtime=None if store else runtime_from_env(),
    )


async def offline_demo() -> None:
    """The same bot against agent_runner.testing.discord.FakeDiscord."""
    from agent_runner.testing.discord import FakeDiscord

    async with FakeDiscord() as fake:
        discord = DiscordConnector(
            token=fake.token,
            api_base=fake.url,
            gateway_url=fake.gateway_url,
            guild_ready_timeout=0.1,
        )
        runtime = build_runtime(discord, InMemoryStore())
        task = asyncio.create_task(runtime.run())
        await runtime.wait_started()
        await fake.wait_ready()
        await fake.post_user_message(fake.channel_id, "hello bot!", mention_bot=True)
        await fake.post_user_message(fake.channel_id, "nobody mentioned you")
        await fake.post_user_message(fake.channel_id, "show me code", mention_bot=True)
        for reply in await fake.wait_for_messages(fake.channel_id, 2, timeout=30):
            print(f"bot replied to {reply.reply_to}: {reply.content}")
        await runtime.stop()
        await task


if __name__ == "__main__":
    from dotenv import load_dotenv

    load_dotenv()
    logging.basicConfig(level=load_settings().log_level)
    asyncio.run(offline_demo() if "--fake" in sys.argv else build_runtime().run())
else:  # imported by `agent-runner run examples/discord_bot.py`
    runtime = build_runtime()
