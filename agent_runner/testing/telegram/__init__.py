"""A fake Telegram Bot API on 127.0.0.1, to test Telegram bots offline with the real SDK.

It serves what a chat bot uses, over HTTP as Telegram does (``/bot<token>/<method>``; query,
JSON, form or multipart parameters): ``getMe``; ``getUpdates`` long polling with offsets
(an update is forgotten once a later poll's offset passes it; a second poller ends the
first with 409, as does polling while a webhook is set); ``setWebhook`` / ``deleteWebhook``
/ ``getWebhookInfo`` (updates are then POSTed to the URL with
``X-Telegram-Bot-Api-Secret-Token``, and retried while the bot does not answer 2xx);
``sendMessage`` (HTML parse mode checked strictly, 4,096-character limit, replies by
``reply_parameters``, inline keyboards with 64-byte ``callback_data``), ``editMessageText``
(recorded with the injected clock), ``sendChatAction`` and ``answerCallbackQuery``;
``rate_limit_next`` answers 429 with ``parameters.retry_after``. Files: ``send_user_file``
sends a photo or document as a user; ``getFile`` and ``/file/bot<token>/<path>`` serve it;
``sendPhoto`` / ``sendDocument`` uploads are recorded (``fake.files.uploads``) under
Telegram's limits (10 MB a photo, 50 MB a file).

Example, a pytest test of a bot through the whole runner::

    from agent_runner import AgentRuntime
    from agent_runner.store import InMemoryStore
    from agent_runner.testing.telegram import FakeTelegram
    from connectors.telegram import TelegramConnector

    async def test_my_bot_answers_in_private() -> None:
        async with FakeTelegram() as fake:
            bot = TelegramConnector(token=fake.token, api_base=fake.url, poll_timeout=1)
            runtime = AgentRuntime([bot], [bot], my_agent, store=InMemoryStore())
            task = asyncio.create_task(runtime.run())
            asked = fake.send_user_message(fake.private, "hi")
            [reply] = await fake.wait_for_messages(fake.private, 1)
            assert reply.reply_to_id == asked.message_id
            await runtime.stop()
            await task

A bot written directly on python-telegram-bot connects with
``Bot(fake.token, base_url=f"{fake.url}/bot")``; on aiogram with
``AiohttpSession(api=TelegramAPIServer.from_base(fake.url))``.
"""

from agent_runner.testing.telegram.api import MAX_CALLBACK_DATA, MAX_TEXT
from agent_runner.testing.telegram.files import FakeFiles
from agent_runner.testing.telegram.objects import (
    FakeChat,
    FakeFile,
    FakeMessage,
    FakeUser,
    RecordedEdit,
)
from agent_runner.testing.telegram.server import FakeTelegram

__all__ = [
    "FakeChat",
    "FakeFile",
    "FakeFiles",
    "FakeMessage",
    "FakeTelegram",
    "FakeUser",
    "MAX_CALLBACK_DATA",
    "MAX_TEXT",
    "RecordedEdit",
]
