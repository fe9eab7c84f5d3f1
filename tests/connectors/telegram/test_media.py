"""Media end to end on Telegram: real python-telegram-bot and openai clients against
FakeTelegram and a local chat-completions server.

A photo a user sends reaches a vision model as an image part (base64: its Telegram URL holds
the bot token, which the model must never see); a file the agent makes reaches the chat as
an upload (sendPhoto / sendDocument); oversize files are refused clearly; the token never
shows in a log or an error.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent_runner import AgentContext, File, Message, Reply
from agent_runner.errors import MediaError, UploadRefusedError
from agent_runner.llm import LLMAgent, OpenAIClient
from agent_runner.testing.telegram import FakeTelegram
from tests.connectors.telegram._fixtures import connector_for, running_bot
from tests.llm.openai_server import OpenAIServer, text
from tests.media.agents import STREAMED_TEXT, streaming_chart
from tests.media.images import JPEG, png


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def model() -> AsyncIterator[OpenAIServer]:
    async with OpenAIServer(model="gpt-4o-mini") as server:
        yield server


def vision_agent(model: OpenAIServer, **options: Any) -> LLMAgent:
    client = OpenAIClient(
        model="gpt-4o-mini", base_url=model.base_url, api_key=model.api_key, max_retries=0
    )
    return LLMAgent(client, system_prompt="Describe pictures.", **options)


def image_urls(body: dict[str, Any]) -> list[str]:
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return []
    return [part["image_url"]["url"] for part in content if part["type"] == "image_url"]


async def test_a_photo_reaches_the_vision_model_as_an_image_part_without_the_token(
    fake: FakeTelegram, model: OpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    model.script(text("A red square."))
    async with running_bot(fake, vision_agent(model), stream=False):
        asked = fake.send_user_file(fake.private, JPEG, caption="what is this?")
        [answer] = await fake.wait_for_messages(fake.private, 1)
    assert (answer.text, answer.reply_to_id) == ("A red square.", asked.message_id)
    [body] = model.requests
    [url] = image_urls(body)
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == JPEG
    words = body["messages"][-1]["content"][0]
    assert words["type"] == "text" and words["text"].startswith("what is this?\n[attachment: ")
    assert fake.files.downloads == [asked.file.path] if asked.file else False
    assert fake.token not in str(body)
    secret = fake.token.split(":", 1)[1]
    leaks = [r.getMessage() for r in caplog.records if secret in r.getMessage()]
    assert not leaks, leaks[0][:2000]


async def test_a_model_without_vision_gets_the_photo_listed_as_text(
    fake: FakeTelegram, model: OpenAIServer
) -> None:
    model.script(text("I cannot see images."))
    async with running_bot(fake, vision_agent(model, vision=False), stream=False):
        fake.send_user_file(fake.private, b"%PDF-1.4 a", name="report.pdf", photo=False)
        await fake.wait_for_messages(fake.private, 1)
    [body] = model.requests
    content = body["messages"][-1]["content"]
    assert isinstance(content, str)
    assert "[attachment: report.pdf (application/pdf) telegram-file:" in content
    assert fake.files.downloads == []


async def test_the_agents_image_and_document_reach_the_chat_as_uploads(
    fake: FakeTelegram,
) -> None:
    chart = png()

    async def draw(message: Message, context: AgentContext) -> Reply:
        return Reply(
            text="Here is your chart.",
            files=(
                File(name="chart.png", data=chart),
                File(name="data.csv", data=b"a,b\n1,2\n"),
            ),
        )

    async with running_bot(fake, draw, stream=False):
        asked = fake.send_user_message(fake.private, "draw me a chart")
        sent = await fake.wait_for_messages(fake.private, 3)
    words, photo, document = sent
    assert (words.text, words.reply_to_id) == ("Here is your chart.", asked.message_id)
    assert photo.media is not None and "photo" in photo.media
    assert photo.file is not None and photo.file.data == chart
    assert document.media is not None and document.media["document"]["file_name"] == "data.csv"
    assert document.file is not None and document.file.data == b"a,b\n1,2\n"
    assert [f.content_type for f in fake.files.uploads] == ["image/png", "text/csv"]


async def test_a_file_past_telegrams_limit_is_refused_before_anything_is_sent(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    big = tmp_path / "video.mp4"
    with big.open("wb") as handle:
        handle.truncate(51 * 1000 * 1000)  # sparse: no 51 MB in memory
    connector = connector_for(fake)
    await connector.open()
    try:
        request = Message.parse(
            {
                "id": "1",
                "conversation_id": str(fake.private.id),
                "source": "telegram",
                "author": {"id": "1"},
                "text": "send it",
                "metadata": {"chat_id": fake.private.id, "message_id": 1},
            }
        )
        with pytest.raises(UploadRefusedError) as refused:
            await connector.send(
                request, Reply(text="here", files=(File(name="video.mp4", path=big),))
            )
    finally:
        await connector.close()
    assert "video.mp4: 51.0 MB" not in str(refused.value)
    assert str(refused.value).startswith("video.mp4: 48.6 MiB is over Telegram's upload limit")
    assert refused.value.limit == 50 * 1000 * 1000
    assert fake.sent_in(fake.private) == []


async def test_fetching_an_oversize_attachment_is_refused_without_the_token(
    fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AGENT_RUNNER_MEDIA_MAX_BYTES", "1000")
    outcomes: list[str] = []

    async def fetch_all(message: Message, context: AgentContext) -> str:
        for attachment in message.attachments:
            try:
                fetched = await context.media.fetch(attachment)
                outcomes.append(f"{fetched.name}: {fetched.size}")
            except MediaError as exc:
                outcomes.append(str(exc))
        return "done"

    async with running_bot(fake, fetch_all, stream=False):
        fake.send_user_file(fake.private, b"x" * 500, name="small.txt", photo=False)
        await fake.wait_for_messages(fake.private, 1)
        fake.send_user_file(fake.private, b"x" * 5000, name="big.txt", photo=False)
        await fake.wait_for_messages(fake.private, 2)
    assert outcomes == [
        "small.txt: 500",
        "big.txt: 5000 bytes is over the limit of 1000 bytes",
    ]
    secret = fake.token.split(":", 1)[1]
    leaks = [r.getMessage() for r in caplog.records if secret in r.getMessage()]
    assert not leaks, leaks[0][:2000]


async def test_a_streamed_reply_keeps_its_files_after_the_text(fake: FakeTelegram) -> None:
    chart = png()

    async with running_bot(fake, streaming_chart(chart)):  # streaming on
        fake.send_user_message(fake.private, "draw me a chart")
        words, photo = await fake.wait_for_messages(fake.private, 2)
        await fake.wait_until(lambda: words.text == STREAMED_TEXT)
    assert words.edits  # it was streamed: posted with the first words, then edited whole
    assert photo.file is not None and photo.file.data == chart
    assert len(fake.sent_in(fake.private)) == 2  # the streamed message, then the photo
