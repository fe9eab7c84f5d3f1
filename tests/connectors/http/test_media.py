"""Media over HTTP, with the official ``openai`` client and plain aiohttp: image parts of
/v1/chat/completions reach a vision model as image parts; a reply's files come back as base64
in /v1/messages answers and as Markdown data: links in chat completions; a part that is not
an image, or a file too big to inline, is refused clearly."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest

from agent_runner import AgentContext, File, Message, Reply
from agent_runner.llm import LLMAgent, OpenAIClient
from connectors.http import HTTPConnector
from tests.connectors._web_fixtures import running
from tests.llm.openai_server import OpenAIServer, text
from tests.media.images import png

PICTURE = png()
PICTURE_URL = "data:image/png;base64," + base64.b64encode(PICTURE).decode()


async def charting(message: Message, context: AgentContext) -> Reply:
    big = File(name="huge.bin", data=b"\0" * (8 * 1024 * 1024 + 1))
    files = [File(name="chart.png", data=PICTURE), File(name="notes.txt", data=b"hi")]
    if "big" in message.text:
        files.append(big)
    return Reply(text="Your chart.", files=tuple(files))


@pytest.fixture
async def http() -> AsyncIterator[HTTPConnector]:
    connector = HTTPConnector(port=0, model_name="my-agent")
    async with running([connector], [connector], charting):
        yield connector


async def test_an_image_part_reaches_the_vision_model_as_an_image_part() -> None:
    async with OpenAIServer(model="gpt-4o") as model:
        model.script(text("A red square."))
        client = OpenAIClient(
            model="gpt-4o", base_url=model.base_url, api_key=model.api_key, max_retries=0
        )
        agent = LLMAgent(client, system_prompt="Describe pictures.")
        connector = HTTPConnector(port=0)
        async with (
            running([connector], [connector], agent),
            openai.AsyncOpenAI(base_url=f"{connector.url}/v1", api_key="x", max_retries=0) as ai,
        ):
            answer = await ai.chat.completions.create(
                model="m",
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "what is this?"},
                            {"type": "image_url", "image_url": {"url": PICTURE_URL}},
                        ],
                    }
                ],
            )
    assert answer.choices[0].message.content == "A red square."
    [body] = model.requests
    parts = body["messages"][-1]["content"]
    assert parts[0]["text"].startswith("what is this?")
    assert parts[1] == {"type": "image_url", "image_url": {"url": PICTURE_URL}}


async def test_a_data_part_that_is_not_an_image_is_refused(http: HTTPConnector) -> None:
    async with openai.AsyncOpenAI(base_url=f"{http.url}/v1", api_key="x", max_retries=0) as ai:
        with pytest.raises(openai.UnprocessableEntityError) as refused:
            await ai.chat.completions.create(
                model="m",
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "data:text/plain,hi"}}
                        ],
                    }
                ],
            )
    assert "data: URL of text/plain, not an image" in str(refused.value)


async def test_files_come_back_as_base64_in_the_messages_answer(http: HTTPConnector) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{http.url}/v1/messages", json={"text": "chart, big"}) as response,
    ):
        assert response.status == 200
        answer = await response.json()
    [reply] = answer["replies"]
    chart, notes, huge = reply["files"]
    assert (chart["name"], chart["content_type"], chart["size"]) == (
        "chart.png",
        "image/png",
        len(PICTURE),
    )
    assert base64.b64decode(chart["data"]) == PICTURE
    assert base64.b64decode(notes["data"]) == b"hi"
    assert "data" not in huge
    assert huge["error"] == (
        "huge.bin: 8.0 MiB is over the limit of 8.0 MiB for a file in an HTTP answer"
    )


async def test_files_come_back_as_markdown_links_in_chat_completions(http: HTTPConnector) -> None:
    async with openai.AsyncOpenAI(base_url=f"{http.url}/v1", api_key="x", max_retries=0) as ai:
        answer = await ai.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "chart"}]
        )
        stream = await ai.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "chart"}], stream=True
        )
        streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    content = answer.choices[0].message.content
    expected = (
        f"Your chart.\n\n![chart.png]({PICTURE_URL})\n"
        f"[notes.txt](data:text/plain;base64,{base64.b64encode(b'hi').decode()})"
    )
    assert content == expected
    assert streamed == expected
