"""A Telegram bot: answers private chats, and mentions, replies and /ask in groups.

Create a bot with @BotFather (/newbot -> token), then put in ``.env`` (see ``.env.example``)::

    TELEGRAM_BOT_TOKEN=123456:ABC...      # the bot token
    TELEGRAM_CHAT_IDS=-100123             # optional: only these groups (default: all)
    TELEGRAM_MODE=polling                 # or webhook, with TELEGRAM_WEBHOOK_URL and _SECRET

Run it::

    agent-runner run examples/telegram_bot.py      # or: python examples/telegram_bot.py

With ``LLM_BASE_URL``/``LLM_MODEL`` or ``LLM_API_KEY`` set, a model answers (its reply
streamed into the chat as it is written); without, an offline echo agent does. Updates that
arrive while the bot is down are answered when it comes back, none twice. Try it offline
against the fake Telegram::

    python examples/telegram_bot.py --fake
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
from connectors.telegram import TelegramConnector

SYSTEM_PROMPT = (
    "You are a helpful Telegram bot. Answer briefly; use **bold**, `code` and code blocks "
    "where they help."
)


class EchoAgent:
    """Answers without a model: enough to see the wiring work (and a button)."""

    async def execute(self, message: Message, context: AgentContext) -> Reply | str:
        if "button" in message.metadata:
            return f"{message.author.name or 'you'} pressed {message.text}"
        if message.text.strip().lower() == "menu":
            return Reply(
                text="Pick one:",
                buttons=(Button(label="Tea", value="tea"), Button(label="Coffee", value="coffee")),
            )
        return f"{message.author.name or 'you'} said: {message.text}"


def build_agent() -> Agent | AgentFunction:
    """A model-backed agent when an endpoint is configured, else the offline echo agent."""
    try:
        from agent_runner.llm import agent_from_env
    except ImportError:  # installed without the llm extra
        return EchoAgent()
    return agent_from_env(system_prompt=SYSTEM_PROMPT) or EchoAgent()


def build_runtime(
    telegram: TelegramConnector | None = None, store: Store | None = None
) -> AgentRuntime:
    telegram = telegram or TelegramConnector()  # TELEGRAM_* from the environment
    return AgentRuntime(
        inputs=[telegram],
        outputs=[telegram],
        agent=build_agent(),
        short_term_memory=ShortTermMemory(max_messages=20),
        store=store or store_from_env(),  # REDIS_URL set: Redis, shared by replicas
        runtime=None if store else runtime_from_env(),
    )


async def offline_demo() -> None:
    """The same bot against agent_runner.testing.telegram.FakeTelegram."""
    from agent_runner.testing.telegram import FakeTelegram

    async with FakeTelegram() as fake:
        telegram = TelegramConnector(token=fake.token, api_base=fake.url, poll_timeout=1)
        runtime = build_runtime(telegram, InMemoryStore())
        task = asyncio.create_task(runtime.run())
        await runtime.wait_started()
        fake.send_user_message(fake.private, "hello bot!")
        fake.send_user_message(fake.group, "nobody mentioned you")
        fake.send_user_message(fake.group, "what's up?", mention_bot=True)
        fake.send_user_message(fake.private, "menu")
        await fake.wait_for_messages(fake.group, 1, timeout=30)
        [_, menu] = await fake.wait_for_messages(fake.private, 2, timeout=30)
        fake.press_button(menu, "coffee")
        await fake.wait_for_messages(fake.private, 3, timeout=30)
        for chat in (fake.private, fake.group):
            for reply in fake.sent_in(chat):
                labels = ", ".join(label for label, _ in reply.buttons)
                buttons = f" [{labels}]" if labels else ""
                print(f"bot replied to {reply.reply_to_id}: {reply.text}{buttons}")
        await runtime.stop()
        await task


if __name__ == "__main__":
    from dotenv import load_dotenv

    load_dotenv()
    logging.basicConfig(level=load_settings().log_level)
    asyncio.run(offline_demo() if "--fake" in sys.argv else build_runtime().run())
else:  # imported by `agent-runner run examples/telegram_bot.py`
    runtime = build_runtime()
