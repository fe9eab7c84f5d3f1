"""A fake Slack on 127.0.0.1, to test Slack bots offline with the real slack_sdk.

It serves the Web API methods a chat bot uses (``POST /api/<method>``, bot token checked):
``auth.test``, ``chat.postMessage`` (``thread_ts``, Block Kit sections and buttons, message
``metadata``, Slack's length limits), ``chat.update`` (recorded with the injected clock) and
``apps.connections.open`` (app-level token), and 429 ``ratelimited`` with ``Retry-After``
on demand. Events reach the bot over Socket Mode (a websocket: ``hello``, envelopes of
``events_api`` and ``interactive`` payloads, sent again with ``retry_attempt`` raised until
acknowledged by ``envelope_id``, and kept for a bot that is not connected) or, after
:meth:`FakeSlack.use_events_api`, as POSTs signed with the signing secret (retried with
``X-Slack-Retry-Num`` while the app does not answer 2xx; ``url_verification``).

Example, a pytest test of a bot through the whole runner::

    from agent_runner import AgentRuntime
    from agent_runner.store import InMemoryStore
    from agent_runner.testing.slack import FakeSlack
    from connectors.slack import SlackConnector

    async def test_my_bot_answers_mentions_in_thread() -> None:
        async with FakeSlack() as fake:
            bot = SlackConnector(bot_token=fake.bot_token, app_token=fake.app_token,
                                 api_base=fake.url)
            runtime = AgentRuntime([bot], [bot], my_agent, store=InMemoryStore())
            task = asyncio.create_task(runtime.run())
            await fake.wait_until(lambda: fake.connections == 1)
            asked = await fake.post_user_message(fake.channel, "hi", mention_bot=True)
            [reply] = await fake.wait_for_messages(fake.channel, 1)
            assert reply.thread_ts == asked.ts
            await runtime.stop()
            await task

Files: ``fake.files.post_user_files`` shares files as a user (their ``url_private`` needs
the bot token); the bot's uploads go through ``files.getUploadURLExternal``, the upload URL
and ``files.completeUploadExternal`` (slack_sdk's ``files_upload_v2``) and are recorded in
``fake.files.uploads``.

A bot written directly on slack_sdk connects with ``AsyncWebClient(token,
base_url=fake.url)`` and ``SocketModeClient(app_token, web_client=...)``.
"""

from agent_runner.testing.slack.files import MAX_FILE_BYTES, FakeSlackFile, SlackFiles
from agent_runner.testing.slack.objects import FakeSlackMessage, FakeSlackUser, RecordedUpdate
from agent_runner.testing.slack.server import FakeSlack, sign
from agent_runner.testing.slack.webapi import MAX_SECTION_TEXT, MAX_TEXT

__all__ = [
    "FakeSlack",
    "FakeSlackFile",
    "FakeSlackMessage",
    "FakeSlackUser",
    "MAX_FILE_BYTES",
    "MAX_SECTION_TEXT",
    "MAX_TEXT",
    "RecordedUpdate",
    "SlackFiles",
    "sign",
]
