"""Tutorial step 2: the same agent on Discord (and still on HTTP).

python bot_discord.py --fake     # against a local fake Discord (FakeDiscord)
agent-runner run bot_discord.py  # against Discord, with DISCORD_TOKEN in .env
"""

import asyncio
import sys

from agent_runner import AgentContext, AgentRuntime, Message
from agent_runner.memory import ShortTermMemory
from agent_runner.store import InMemoryStore
from connectors.discord import DiscordConnector
from connectors.http import HTTPConnector


async def agent(message: Message, context: AgentContext) -> str:
    turns = context.memory.messages  # this conversation's earlier turns
    earlier = [item.text for item in turns if item.role == "user"]
    if earlier:
        return f"You said {message.text!r}. Before that: {earlier[-1]!r}."
    return f"You said {message.text!r}. Nice to meet you!"


def build(
    discord: DiscordConnector,
    http: HTTPConnector,
    **options: object,
) -> AgentRuntime:
    return AgentRuntime(
        inputs=[discord, http],
        outputs=[discord, http],
        agent=agent,
        short_term_memory=ShortTermMemory(max_messages=20),
        **options,  # type: ignore[arg-type]
    )


async def against_the_fake() -> None:
    from agent_runner.testing.discord import FakeDiscord

    # Discord's REST API and gateway on 127.0.0.1; the real discord.py connects
    async with FakeDiscord() as fake:
        discord = DiscordConnector(
            token=fake.token, api_base=fake.url, gateway_url=fake.gateway_url
        )
        runtime = build(discord, HTTPConnector(port=0), store=InMemoryStore())
        task = asyncio.create_task(runtime.run())
        await runtime.wait_started()
        await fake.wait_ready()  # the bot's gateway session is up
        channel = fake.channel_id
        await fake.post_user_message(channel, "hello bot!", mention_bot=True)
        await fake.post_user_message(channel, "how are you?", mention_bot=True)
        for reply in await fake.wait_for_messages(channel, 2, timeout=30):
            print(f"bot: {reply.content}")
        await runtime.stop()
        await task


if __name__ == "__main__" and "--fake" in sys.argv:
    asyncio.run(against_the_fake())
elif __name__ != "__main__":  # imported by `agent-runner run bot_discord.py`
    runtime = build(DiscordConnector(), HTTPConnector.from_env())
