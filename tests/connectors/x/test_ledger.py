"""X is reconciled under the reply ledger: after a crash the account's latest tweets are
looked up (``GET /2/users/:id/tweets`` on the fake X) and only the missing parts are posted."""

from __future__ import annotations

import contextlib

from agent_runner import DeliveryKey, Reply
from agent_runner.message import Author, Message
from agent_runner.testing.x import FakeTweet, FakeX
from tests.connectors.x._fixtures import FakeClock, clock, connector, fake_x

__all__ = ["clock", "fake_x"]  # fixtures

TEXT = " ".join(
    f"Sentence number {i} of a thread that has to run to five tweets." for i in range(17)
)


class Killed(Exception):
    """Stands for the SIGKILL between a tweet being posted and the ledger recording it."""


def request(tweet_id: str) -> Message:
    return Message(
        id=tweet_id, conversation_id=tweet_id, source="x", author=Author(id="u"), text="q"
    )


async def killed_while_recording(
    fake: FakeX, clock: FakeClock, mention: FakeTweet, text: str, *, part: int
) -> dict[int, str]:
    """Reply ``text`` to ``mention`` until the process dies between posting tweet ``part``
    (from 0) and recording it; the parts the ledger recorded."""
    recorded: dict[int, str] = {}

    async def record(index: int, ref: str) -> None:
        if index == part:
            raise Killed  # the tweet is on X; the ledger does not know
        recorded[index] = ref

    async with connector(fake, clock) as x:
        key = DeliveryKey(f"x:{mention.id}#0", "x", record=record)
        with contextlib.suppress(Killed):
            await x.send(request(mention.id), Reply(text=text), key=key)
    return recorded


async def test_a_thread_of_5_interrupted_after_3_resumes_at_4(
    fake_x: FakeX, clock: FakeClock
) -> None:
    mention = fake_x.add_mention("tell me a lot")
    recorded = await killed_while_recording(fake_x, clock, mention, TEXT, part=2)
    assert len(fake_x.posted) == 3
    async with connector(fake_x, clock) as x:  # the restart
        again = DeliveryKey(f"x:{mention.id}#0", "x", 0, 2, dict(recorded), resumed=True)
        assert not await x.reconcile(request(mention.id), Reply(text=TEXT), again)
        assert sorted(again.parts) == [0, 1, 2]  # the 3rd was found
        await x.send(request(mention.id), Reply(text=TEXT), key=again)
    thread = fake_x.thread(mention)
    assert [t.text.rsplit(" ", 1)[1] for t in thread] == ["1/5", "2/5", "3/5", "4/5", "5/5"]
    assert len(fake_x.posted) == 5  # nothing posted twice
    assert fake_x.calls("user_tweets") == 1  # one lookup for the restart


async def test_a_thread_found_whole_is_not_posted_again(fake_x: FakeX, clock: FakeClock) -> None:
    mention = fake_x.add_mention("short one")
    async with connector(fake_x, clock) as x:
        await x.send(request(mention.id), Reply(text="all there"), key=DeliveryKey("k", "x"))
        lost = DeliveryKey("k", "x", 0, 2, {}, resumed=True)  # the record never made it
        assert await x.reconcile(request(mention.id), Reply(text="all there"), lost)
    assert [t.text for t in fake_x.posted] == ["all there"]


async def test_parts_with_links_are_found_though_x_shows_them_as_t_co(
    fake_x: FakeX, clock: FakeClock
) -> None:
    text = " ".join(f"Read https://e.com/page/{i} for part {i} of the story." for i in range(12))
    mention = fake_x.add_mention("links please")
    recorded = await killed_while_recording(fake_x, clock, mention, text, part=1)
    posted = len(fake_x.posted)
    assert "https://t.co/" in fake_x.posted[1].shown_text  # what the lookup sees
    async with connector(fake_x, clock) as x:
        again = DeliveryKey(f"x:{mention.id}#0", "x", 0, 2, dict(recorded), resumed=True)
        await x.reconcile(request(mention.id), Reply(text=text), again)
        assert sorted(again.parts) == [0, 1]  # the 2nd was found by its links as written
        await x.send(request(mention.id), Reply(text=text), key=again)
    thread = fake_x.thread(mention)
    assert " ".join(t.text.rsplit(" ", 1)[0] for t in thread) == text
    assert len(fake_x.posted) == posted + len(thread) - 2  # nothing posted twice
