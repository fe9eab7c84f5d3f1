"""Media end to end on X: the real runner, tweepy and aiohttp against FakeX.

Out: a reply's files are uploaded with media upload v2 (initialize, append, finalize, STATUS
while a video is processed) and attached to its posts, four images or one video a post;
files X does not take are refused before anything is sent; a post found on X after a crash
is not posted again, and one retried uploads its files anew.

In: a photo on a mention reaches a vision model (the scripted model client) as an image part,
by its public media URL; a video arrives as its preview still and says so; an agent fetches
the file through the outbound guard, which refuses the fake's loopback address unless the
test allows it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent_runner import AgentContext, DeliveryKey, File, Message, Reply
from agent_runner.errors import (
    ConnectorError,
    DeliveryError,
    MediaError,
    OutboundRefusedError,
    UploadRefusedError,
)
from agent_runner.llm import LLMAgent, ScriptedModelClient
from agent_runner.message import Author
from agent_runner.testing.x import FakeX
from connectors.x.upload import MediaUploader
from tests.connectors.x._fixtures import FakeClock, clock, connector, fake_x, running
from tests.media.images import png

__all__ = ["clock", "fake_x"]  # fixtures


def secrets_of(fake: FakeX) -> list[str]:
    return [fake.consumer_secret, fake.access_token, fake.access_token_secret, fake.bearer_token]


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


# -- out -------------------------------------------------------------------------------------
def _request(tweet_id: str) -> Message:
    return Message(
        id=tweet_id, conversation_id=tweet_id, source="x", author=Author(id="u"), text="q"
    )


async def test_a_generated_image_is_uploaded_and_attached_to_the_reply(
    fake_x: FakeX, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    chart = png(4, 4)

    async def draw(message: Message, context: AgentContext) -> Reply:
        return Reply(text="Here is your chart.", files=(File(name="chart.png", data=chart),))

    async with running(connector(fake_x, clock, first_run="all"), draw):
        mention = fake_x.add_mention("draw me a chart")
        [reply] = await fake_x.wait_posted(1)
    assert (reply.text, reply.in_reply_to_tweet_id) == ("Here is your chart.", mention.id)
    [upload] = fake_x.uploads
    assert (upload.data, upload.media_type, upload.category) == (chart, "image/png", "tweet_image")
    assert reply.media_keys == (upload.media_key,)
    assert [m.data for m in fake_x.media_of(reply)] == [chart]
    flow = [r for r in fake_x.requests if r.endpoint.startswith("media_") or r.method == "POST"]
    assert [(r.endpoint, r.auth, r.status) for r in flow] == [
        ("media_initialize", "oauth1", 200),
        ("media_append", "oauth1", 200),
        ("media_finalize", "oauth1", 200),
        ("create_tweet", "oauth1", 201),
    ]
    assert flow[0].body == {
        "media_type": "image/png",
        "total_bytes": len(chart),
        "media_category": "tweet_image",
    }
    assert flow[-1].body["media"] == {"media_ids": [upload.media_id]}
    assert not leaked(fake_x, caplog)


async def test_five_images_are_split_over_two_posts_of_the_thread(
    fake_x: FakeX, clock: FakeClock
) -> None:
    pictures = [png(2, 2, (n * 40, 0, 0)) for n in range(5)]
    files = tuple(File(name=f"p{n}.png", data=p) for n, p in enumerate(pictures))
    mention = fake_x.add_mention("five pictures please")
    async with connector(fake_x, clock) as x:
        await x.send(_request(mention.id), Reply(text="Five pictures.", files=files))
    first, second = fake_x.thread(mention)
    assert (first.text, second.text) == ("Five pictures.", "")
    assert [m.data for m in fake_x.media_of(first)] == pictures[:4]
    assert [m.data for m in fake_x.media_of(second)] == pictures[4:]
    assert second.in_reply_to_tweet_id == first.id


async def test_a_video_waits_for_processing_and_goes_alone(fake_x: FakeX, clock: FakeClock) -> None:
    clip = b"\0\0\0\x18ftypmp42" + b"v" * (9 * 1024 * 1024)  # three segments
    mention = fake_x.add_mention("a clip and a picture")
    files = (File(name="clip.mp4", data=clip), File(name="still.png", data=png()))
    async with connector(fake_x, clock) as x:
        await x.send(_request(mention.id), Reply(text="Both.", files=files))
    video_post, picture_post = fake_x.thread(mention)
    [video] = fake_x.media_of(video_post)
    assert (video.type, video.data) == ("video", clip)
    assert [m.type for m in fake_x.media_of(picture_post)] == ["photo"]
    appends = [r.body["segment_index"] for r in fake_x.requests if r.endpoint == "media_append"]
    assert appends == ["0", "1", "2", "0"]
    assert fake_x.calls("media_status") == 1
    assert clock.sleeps == [1.0]  # check_after_secs, on the injected clock


async def test_files_x_does_not_take_are_refused_before_anything_is_sent(
    fake_x: FakeX, clock: FakeClock, tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as handle:
        handle.truncate(6 * 1024 * 1024)  # sparse
    mention = fake_x.add_mention("send them")
    fine = File(name="fine.png", data=png())
    async with connector(fake_x, clock) as x:
        with pytest.raises(UploadRefusedError) as oversize:
            await x.send(
                _request(mention.id),
                Reply(text="here", files=(fine, File(name="big.png", path=big))),
            )
        with pytest.raises(UploadRefusedError) as wrong_type:
            await x.send(
                _request(mention.id),
                Reply(text="here", files=(fine, File(name="r.pdf", data=b"%PDF"))),
            )
    assert str(oversize.value) == "big.png: 6.0 MiB is over X's upload limit of 5.0 MiB"
    assert (oversize.value.size, oversize.value.limit) == (6 * 1024 * 1024, 5 * 1024 * 1024)
    assert str(wrong_type.value).startswith(
        "r.pdf: X does not take application/pdf files (it takes image/gif, image/jpeg,"
    )
    assert fake_x.uploads == [] and fake_x.posted == []


async def test_the_fake_refuses_what_x_refuses(fake_x: FakeX, clock: FakeClock) -> None:
    """What a bot that skips the checks gets: X's 400s."""
    async with connector(fake_x, clock) as x:
        uploader = MediaUploader(x._api, sleep=clock.sleep)  # the connector's API client
        with pytest.raises(DeliveryError, match="File size exceeds 5242880 bytes"):
            await uploader.upload(
                File(name="big.png", data=b"\0" * (5 * 1024 * 1024 + 1)), "tweet_image"
            )
        with pytest.raises(DeliveryError, match="does not fit tweet_image"):
            await uploader.upload(File(name="a.gif", data=b"GIF89a"), "tweet_image")
        media_id = await uploader.upload(File(name="a.png", data=png()), "tweet_image")
        clock.now += 86_401  # media ids expire
        with pytest.raises(DeliveryError, match="Your media IDs are invalid"):
            await x._api.create_tweet("late", None, [media_id])
    assert fake_x.posted == []


class Killed(Exception):
    """Stands for the SIGKILL between a post and the ledger recording it."""


async def test_a_post_with_media_found_after_a_crash_is_not_posted_again(
    fake_x: FakeX, clock: FakeClock
) -> None:
    mention = fake_x.add_mention("draw")
    reply = Reply(text="Your chart.", files=(File(name="chart.png", data=png()),))

    async def killed(part: int, ref: str) -> None:
        raise Killed

    async with connector(fake_x, clock) as x:
        with pytest.raises(Killed):
            await x.send(_request(mention.id), reply, key=DeliveryKey("k", "x", record=killed))
    async with connector(fake_x, clock) as x:  # the restart
        again = DeliveryKey("k", "x", 0, 2, {}, resumed=True)
        assert await x.reconcile(_request(mention.id), reply, again)
    [posted] = fake_x.posted
    assert again.parts == {0: posted.id}
    assert len(fake_x.uploads) == 1


async def test_a_post_retried_after_an_unknown_outcome_uploads_its_files_again(
    fake_x: FakeX, clock: FakeClock
) -> None:
    mention = fake_x.add_mention("draw")
    reply = Reply(text="Your chart.", files=(File(name="chart.png", data=png()),))
    fake_x.fail_next(1, status=500, endpoint="create_tweet")  # X may or may not have posted
    async with connector(fake_x, clock) as x:
        with pytest.raises(DeliveryError, match="outcome unknown"):
            await x.send(_request(mention.id), reply, key=DeliveryKey("k", "x"))
    clock.now += 2 * 86_400  # long after: the first media id has expired
    async with connector(fake_x, clock) as x:
        again = DeliveryKey("k", "x", 1, 2, {}, resumed=True)
        assert not await x.reconcile(_request(mention.id), reply, again)
        await x.send(_request(mention.id), reply, key=again)
    [posted] = fake_x.posted
    first, second = fake_x.uploads
    assert posted.media_keys == (second.media_key,)  # a fresh upload, not the stale id
    assert first.data == second.data


async def test_a_dry_run_names_the_files_and_uploads_nothing(
    fake_x: FakeX, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.x")
    mention = fake_x.add_mention("draw")
    async with connector(fake_x, clock, dry_run=True) as x:
        await x.send(
            _request(mention.id), Reply(text="Chart.", files=(File(name="c.png", data=png()),))
        )
    assert fake_x.uploads == [] and fake_x.posted == []
    assert any("with c.png: Chart." in r.getMessage() for r in caplog.records)


async def test_an_append_that_failed_is_retried_and_the_upload_completes(
    fake_x: FakeX, clock: FakeClock
) -> None:
    mention = fake_x.add_mention("draw")
    chart = png()
    fake_x.fail_next(1, status=503, endpoint="media_append")
    async with connector(fake_x, clock) as x:
        await x.send(
            _request(mention.id), Reply(text="Chart.", files=(File(name="c.png", data=chart),))
        )
    [reply] = fake_x.posted
    assert [m.data for m in fake_x.media_of(reply)] == [chart]
    assert fake_x.calls("media_append") == 2 and fake_x.calls("media_append", status=503) == 1


async def test_a_video_x_cannot_process_is_refused_and_nothing_is_posted(
    fake_x: FakeX, clock: FakeClock
) -> None:
    mention = fake_x.add_mention("a clip")
    fake_x.desk.fail_processing("Unsupported video format")
    clip = File(name="clip.mp4", data=b"\0\0\0\x18ftypmp42")
    async with connector(fake_x, clock) as x:
        with pytest.raises(UploadRefusedError) as refused:
            await x.send(_request(mention.id), Reply(text="Here.", files=(clip,)))
    assert str(refused.value) == "clip.mp4: X could not process it (Unsupported video format)"
    assert fake_x.posted == []


async def test_processing_is_waited_for_within_a_cap(clock: FakeClock) -> None:
    async with FakeX(clock=clock, processing_checks=1_000, check_after_secs=2) as fake:
        async with connector(fake, clock) as x:
            uploader = MediaUploader(x._api, sleep=clock.sleep, max_wait=10.0)
            with pytest.raises(ConnectorError, match="still processing it after 10s"):
                await uploader.upload(File(name="clip.mp4", data=b"\0\0\0\x18ftyp"), "tweet_video")
    assert clock.sleeps == [2.0] * 5
    assert fake.calls("media_status") == 5
