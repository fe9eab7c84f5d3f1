"""Media end to end on X: the real runner, tweepy and aiohttp against FakeX.

In: a photo on a mention reaches a vision model (the scripted model client) as an image part,
by its public media URL; a video arrives as its preview still and says so; an agent fetches
the file through the outbound guard, which refuses the fake's loopback address unless the
test allows it.
"""

from __future__ import annotations

import logging

import pytest

from agent_runner import AgentContext, Message
from agent_runner.errors import MediaError, OutboundRefusedError
from agent_runner.llm import LLMAgent, ScriptedModelClient
from agent_runner.testing.x import FakeX
from tests.connectors.x._fixtures import FakeClock, clock, connector, fake_x, running
from tests.media.images import png

__all__ = ["clock", "fake_x"]  # fixtures


def secrets_of(fake: FakeX) -> list[str]:
    return [fake.consumer_secret, fake.access_token_secret, fake.bearer_token]


def leaked(fake: FakeX, caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if any(s in r.getMessage() for s in secrets_of(fake))
    ]


async def test_a_photo_on_a_mention_reaches_the_vision_model_as_an_image_part(
    fake_x: FakeX, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    model = ScriptedModelClient(["A red square."])
    agent = LLMAgent(model, system_prompt="Describe pictures.", vision=True)
    async with running(connector(fake_x, clock, first_run="all"), agent):
        picture = png()
        mention = fake_x.add_mention("what is this?", media=[("shot.png", picture, "a red square")])
        [reply] = await fake_x.wait_posted(1)
    assert (reply.text, reply.in_reply_to_tweet_id) == ("A red square.", mention.id)
    [photo] = fake_x.media_of(mention)
    [request] = model.requests
    asked = request.messages[-1]
    assert asked.images == (fake_x.url + photo.path,)  # public: the model fetches it itself
    assert asked.content is not None and asked.content.startswith("what is this?\n[attachment: ")
    assert "https://t.co/" not in asked.content  # X's media link is not part of the text
    assert fake_x.downloads == []  # nothing fetched by the bot
    assert not leaked(fake_x, caplog)


async def test_a_video_arrives_as_its_preview_still_and_says_so(
    fake_x: FakeX, clock: FakeClock
) -> None:
    seen: list[Message] = []

    async def look(message: Message, context: AgentContext) -> str:
        seen.append(message)
        return "seen"

    async with running(connector(fake_x, clock, first_run="all"), look):
        mention = fake_x.add_mention("", media=[("clip.mp4", b"\0\0\0\x18ftypmp42")])
        await fake_x.wait_posted(1)
    [message] = seen
    [attachment] = message.attachments
    [video] = fake_x.media_of(mention)
    assert attachment.url == fake_x.url + video.path
    assert attachment.filename == f"video-preview-{video.id}.jpg"
    assert (attachment.content_type, attachment.id, attachment.is_image) == (
        "image/jpeg",
        video.media_key,
        True,
    )
    assert message.text == ""
    assert message.metadata["media"] == [
        {
            "media_key": video.media_key,
            "type": "video",
            "url": attachment.url,
            "width": 2,
            "height": 2,
        }
    ]


async def test_an_agent_fetches_a_photo_only_where_the_guard_allows(
    fake_x: FakeX, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes: list[str] = []

    async def fetch(message: Message, context: AgentContext) -> str:
        for attachment in message.attachments:
            try:
                fetched = await context.media.fetch(attachment)
            except (MediaError, OutboundRefusedError) as exc:
                outcomes.append(f"{type(exc).__name__}: {exc}")
            else:
                outcomes.append(f"{fetched.name}: {fetched.size} {fetched.content_type}")
        return "done"

    picture = png()
    async with running(connector(fake_x, clock, first_run="all"), fetch):
        fake_x.add_mention("look", media=[("a.png", picture)])  # the fake is on 127.0.0.1
        await fake_x.wait_posted(1)
        monkeypatch.setenv("AGENT_RUNNER_OUTBOUND_ALLOW", "127.0.0.1")  # now it is allowed
        mention = fake_x.add_mention("again", media=[("b.png", picture)])
        await fake_x.wait_posted(2)
    [photo] = fake_x.media_of(mention)
    refused, fetched = outcomes
    assert refused.startswith("OutboundRefusedError: ")
    assert "127.0.0.1 is a loopback address" in refused
    assert fetched == f"{photo.id}.png: {len(picture)} image/png"
    assert fake_x.downloads == [photo.path]  # the refused one was never requested
