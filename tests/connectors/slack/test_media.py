"""Media end to end on Slack: real slack_sdk and openai clients against FakeSlack and a local
chat-completions server.

A shared picture reaches a vision model as an image part (base64: ``url_private`` needs the
bot token, which the model must never see); the agent's files are shared in the thread with
the external upload flow (``files_upload_v2``); the token goes only to Slack's file host.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator

import pytest

from agent_runner import AgentContext, File, Message, Reply
from agent_runner.errors import UploadRefusedError
from agent_runner.llm import LLMAgent, OpenAIClient
from agent_runner.message import Attachment
from agent_runner.testing.slack import FakeSlack
from connectors.slack.media import check_uploads, resolve
from tests.connectors.slack._fixtures import running_bot
from tests.llm.openai_server import OpenAIServer, text
from tests.media.agents import STREAMED_TEXT, streaming_chart
from tests.media.images import png


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        yield server


async def test_a_shared_picture_reaches_the_vision_model_without_the_token(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    picture = png()
    async with OpenAIServer(model="gpt-4o") as model:
        model.script(text("A red square."))
        client = OpenAIClient(
            model="gpt-4o", base_url=model.base_url, api_key=model.api_key, max_retries=0
        )
        agent = LLMAgent(client, system_prompt="Describe pictures.")
        async with running_bot(fake, agent, stream=False):
            asked = await fake.files.post_user_files(
                fake.channel, "what is this?", [("shot.png", picture)], mention_bot=True
            )
            [answer] = await fake.wait_for_messages(fake.channel, 1)
    assert (answer.text, answer.thread_ts) == ("A red square.", asked.ts)
    [body] = model.requests
    parts = body["messages"][-1]["content"]
    [url] = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert base64.b64decode(url.removeprefix("data:image/png;base64,")) == picture
    assert fake.bot_token not in str(body)
    assert len(fake.files.downloads) == 1 and fake.files.refused_downloads == 0
    assert not [r for r in caplog.records if fake.bot_token in r.getMessage()]


async def test_the_agents_files_are_shared_in_the_thread(fake: FakeSlack) -> None:
    chart = png()

    async def draw(message: Message, context: AgentContext) -> Reply:
        return Reply(
            text="Your chart.",
            files=(File(name="chart.png", data=chart), File(name="data.csv", data=b"a,b\n")),
        )

    async with running_bot(fake, draw, stream=False):
        asked = await fake.post_user_message(fake.channel, "draw", mention_bot=True)
        words, shared = await fake.wait_for_messages(fake.channel, 2)
    assert (words.text, words.thread_ts) == ("Your chart.", asked.ts)
    assert shared.thread_ts == asked.ts
    assert [f["name"] for f in shared.files] == ["chart.png", "data.csv"]
    assert [f.data for f in fake.files.uploads] == [chart, b"a,b\n"]
    assert [f.mimetype for f in fake.files.uploads] == ["image/png", "text/csv"]
    methods = [m for m, _ in fake.requests if m.startswith("files.")]
    assert methods == [
        "files.getUploadURLExternal",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]


def test_the_token_goes_to_slacks_file_hosts_only() -> None:
    api = "https://slack.com/api/"
    on_slack = resolve(
        Attachment(url="https://files.slack.com/files-pri/T1-F1/a.png"),
        token="xoxb-1",
        api_base=api,
    )
    assert on_slack.headers == {"Authorization": "Bearer xoxb-1"}
    elsewhere = resolve(Attachment(url="https://evil.example/a.png"), token="xoxb-1", api_base=api)
    assert elsewhere.headers == {} and elsewhere.public
    assert "xoxb" not in repr(on_slack)


def test_a_file_past_slacks_limit_is_refused() -> None:
    class Huge(File):
        @property
        def size(self) -> int:
            return 2 * 1024 * 1024 * 1024

    with pytest.raises(UploadRefusedError, match=r"^big.iso: 2048.0 MiB is over Slack's upload"):
        check_uploads([Huge(name="big.iso", data=b"")])


async def test_a_streamed_reply_keeps_its_files_after_the_text(fake: FakeSlack) -> None:
    chart = png()

    async with running_bot(fake, streaming_chart(chart)):  # streaming on
        asked = await fake.post_user_message(fake.channel, "draw", mention_bot=True)
        words, shared = await fake.wait_for_messages(fake.channel, 2)
        await fake.wait_until(lambda: words.text == STREAMED_TEXT)
    assert words.updates  # it was streamed: posted with the first words, then updated whole
    assert shared.thread_ts == asked.ts
    assert [f["name"] for f in shared.files] == ["chart.png"]
    assert [f.data for f in fake.files.uploads] == [chart]
