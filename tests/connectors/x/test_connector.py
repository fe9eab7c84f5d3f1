"""XConnector against the fake X over 127.0.0.1, through tweepy's real AsyncClient."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest
from pydantic import SecretStr

from agent_runner.errors import (
    ConfigurationError,
    ConnectorError,
    DeliveryError,
    RateLimitedError,
)
from agent_runner.message import Author, File, Message, Reply
from agent_runner.store import InMemoryStore
from agent_runner.testing.x import FakeX
from connectors.x import DailyPostCapError, XConnector, XSettings
from connectors.x.text import MAX_TWEET_WEIGHT, weighted_length
from tests.connectors.x._fixtures import (
    FakeClock,
    RecordingSink,
    clock,
    connector,
    fake_x,
    x_retry,
)

__all__ = ["clock", "fake_x"]  # fixtures


def _request(tweet_id: str = "1", source: str = "x") -> Message:
    return Message(
        id=tweet_id, conversation_id=tweet_id, source=source, author=Author(id="u"), text="hi"
    )


async def test_polls_pages_oldest_first_and_moves_the_cursor(
    fake_x: FakeX, clock: FakeClock
) -> None:
    for i in range(12):
        fake_x.add_mention(f"question {i}", author=f"user{i % 3}")
    sink = RecordingSink()
    async with connector(fake_x, clock, first_run="all", page_size=5) as x:
        assert await x.poll(sink) == 12
        assert await x.poll(sink) == 0
        fake_x.add_mention("one more", author="alice")
        assert await x.poll(sink) == 1
    assert [m.text for m in sink.messages] == [f"question {i}" for i in range(12)] + ["one more"]
    assert sink.messages[1].author.name == "user1"
    mentions = [r for r in fake_x.requests if r.endpoint == "mentions"]
    assert [r.query.get("pagination_token") is not None for r in mentions[:3]] == [
        False,
        True,
        True,
    ]
    assert mentions[-1].query["since_id"] == sink.messages[11].id
    fields = mentions[0].query["tweet.fields"].split(",")
    assert {"author_id", "attachments"} <= set(fields)
    assert mentions[0].query["expansions"] == "attachments.media_keys,author_id"
    assert "preview_image_url" in mentions[0].query["media.fields"].split(",")


async def test_first_run_starts_from_the_newest_mention(fake_x: FakeX, clock: FakeClock) -> None:
    fake_x.add_mention("old, before the bot ever ran")
    sink = RecordingSink()
    async with connector(fake_x, clock) as x:
        assert await x.poll(sink) == 0
        fake_x.add_mention("new")
        assert await x.poll(sink) == 1
    assert [m.text for m in sink.messages] == ["new"]


async def test_own_tweets_are_skipped_but_passed_by_the_cursor(
    fake_x: FakeX, clock: FakeClock
) -> None:
    sink = RecordingSink()
    async with connector(fake_x, clock, first_run="all") as x:
        fake_x.add_mention("talking to myself", author=fake_x.me.username)
        mine = await x.post(f"@{fake_x.me.username} a note to self")
        assert await x.poll(sink) == 0
        fake_x.add_mention("a real question", author="bob")
        assert await x.poll(sink) == 1
    assert [m.text for m in sink.messages] == ["a real question"]
    assert fake_x.calls("mentions") == 2
    last = [r for r in fake_x.requests if r.endpoint == "mentions"][-1]
    assert int(last.query["since_id"]) >= int(mine[0])


async def test_app_only_bearer_token_reads_mentions(fake_x: FakeX, clock: FakeClock) -> None:
    x = XConnector(
        bearer_token=fake_x.bearer_token,
        user_id=fake_x.me.id,
        api_base=fake_x.url,
        first_run="all",
        clock=clock,
        sleep=clock.sleep,
    )
    fake_x.add_mention("hello app")
    sink = RecordingSink()
    async with x:
        assert x.username == fake_x.me.username  # looked up with the bearer token
        assert await x.poll(sink) == 1
    assert [(r.endpoint, r.auth) for r in fake_x.requests] == [
        ("users_id", "bearer"),
        ("mentions", "bearer"),
    ]
    assert sink.messages[0].text == "hello app"  # our handle stripped: the username is known


@pytest.mark.parametrize(
    "override",
    [
        {"X_API_SECRET": "wrong-consumer-secret"},
        {"X_ACCESS_TOKEN_SECRET": "wrong-token-secret"},
        {"X_ACCESS_TOKEN": "9-someone-else"},
    ],
)
async def test_bad_oauth_credentials_are_rejected(
    fake_x: FakeX, clock: FakeClock, override: dict[str, str]
) -> None:
    x = XConnector.from_env({**fake_x.env(), **override}, clock=clock, sleep=clock.sleep)
    with pytest.raises(DeliveryError, match="401"):
        await x.open()
    await x.close()
    assert [(r.endpoint, r.status, r.auth) for r in fake_x.requests] == [("users_me", 401, None)]


async def test_a_wrong_bearer_token_is_rejected(fake_x: FakeX, clock: FakeClock) -> None:
    x = XConnector(bearer_token="nope", user_id=fake_x.me.id, api_base=fake_x.url)
    with pytest.raises(DeliveryError, match="401"):
        await x.open()
    await x.close()


async def test_an_unknown_user_id_is_a_configuration_error(fake_x: FakeX) -> None:
    x = XConnector(bearer_token=fake_x.bearer_token, user_id="999999", api_base=fake_x.url)
    with pytest.raises(ConfigurationError, match="999999"):
        await x.open()


async def test_missing_credentials_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="X_API_KEY"):
        await XConnector(api_key="only-this").open()
    with pytest.raises(ConfigurationError, match="X_BEARER_TOKEN"):
        await XConnector(
            api_key="k",
            api_secret="s",
            access_token="t",
            access_token_secret="ts",
            mentions_auth="app",
        ).open()


async def test_a_long_reply_is_an_ordered_thread_within_the_weighted_limit(
    fake_x: FakeX, clock: FakeClock
) -> None:
    mention = fake_x.add_mention("tell me everything")
    text = " ".join(f"Point {i}: 日本語 and 🐱 https://example.com/{i}." for i in range(40))
    async with connector(fake_x, clock) as x:
        await x.send(_request(mention.id), Reply(text=text))
    thread = fake_x.thread(mention)
    assert len(thread) == len(fake_x.posted) > 1
    assert all(weighted_length(t.text) <= MAX_TWEET_WEIGHT for t in thread)
    assert [t.text.rsplit(" ", 1)[1] for t in thread] == [
        f"{i}/{len(thread)}" for i in range(1, len(thread) + 1)
    ]
    assert " ".join(t.text.rsplit(" ", 1)[0] for t in thread) == text


async def test_a_very_long_reply_is_cut_at_max_thread_parts(
    fake_x: FakeX, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    mention = fake_x.add_mention("write a novel")
    with caplog.at_level(logging.WARNING, logger="connectors.x"):
        async with connector(fake_x, clock, max_thread_parts=3) as x:
            await x.send(_request(mention.id), Reply(text="Once upon a time. " * 200))
    thread = fake_x.thread(mention)
    assert [t.text.rsplit(" ", 1)[1] for t in thread] == ["1/3", "2/3", "3/3"]
    assert thread[-1].text.endswith("\u2026 3/3")
    assert any("posting the first 3" in r.getMessage() for r in caplog.records)


async def test_a_request_from_another_input_is_a_standalone_tweet(
    fake_x: FakeX, clock: FakeClock
) -> None:
    async with connector(fake_x, clock) as x:
        await x.send(_request("daily", source="cron"), Reply(text="good morning"))
    [tweet] = fake_x.posted
    assert tweet.text == "good morning" and tweet.in_reply_to_tweet_id is None


async def test_a_burst_of_429s_is_waited_out_within_the_cap(
    fake_x: FakeX, clock: FakeClock
) -> None:
    mention = fake_x.add_mention("hi")
    fake_x.rate_limit_next(3, reset_in=30, endpoint="create_tweet")
    async with connector(
        fake_x, clock, retry=x_retry(retries=5, max_retry_after=120, max_total=120)
    ) as x:
        await x.send(_request(mention.id), Reply(text="hello back"))
    assert [t.text for t in fake_x.posted] == ["hello back"]
    assert fake_x.calls("create_tweet", status=429) == 3
    assert len(clock.sleeps) == 3
    assert all(29 <= s <= 31 for s in clock.sleeps) and sum(clock.sleeps) <= 120


async def test_a_rate_limit_beyond_the_cap_raises_without_waiting(
    fake_x: FakeX, clock: FakeClock
) -> None:
    mention = fake_x.add_mention("hi")
    fake_x.rate_limit_next(1, reset_in=3600, endpoint="create_tweet")
    async with connector(fake_x, clock, retry=x_retry(max_retry_after=900, max_total=900)) as x:
        with pytest.raises(RateLimitedError) as info:
            await x.send(_request(mention.id), Reply(text="hello back"))
    assert info.value.retry_after is not None and info.value.retry_after > 900
    assert fake_x.posted == [] and clock.sleeps == []


async def test_a_spent_window_is_waited_for_before_calling(clock: FakeClock) -> None:
    async with FakeX(clock=clock, limits={"create_tweet": 2}) as fake:
        async with connector(fake, clock) as x:
            await x.post("one")
            await x.post("two")
            await x.post("three")  # remaining is 0: wait for the reset instead of a 429
    assert [t.text for t in fake.posted] == ["one", "two", "three"]
    assert fake.calls("create_tweet", status=429) == 0
    assert len(clock.sleeps) == 1 and 890 <= clock.sleeps[0] <= 902


async def test_server_errors_are_retried_a_bounded_number_of_times(
    fake_x: FakeX, clock: FakeClock
) -> None:
    sink = RecordingSink()
    async with connector(fake_x, clock, retry=x_retry(retries=3), first_run="all") as x:
        fake_x.fail_next(2, status=500, endpoint="mentions")
        fake_x.add_mention("still there?")
        assert await x.poll(sink) == 1
        fake_x.fail_next(10, status=502, endpoint="mentions")
        with pytest.raises(ConnectorError, match="after 4 attempts"):
            await x.poll(sink)
    assert fake_x.calls("mentions") == 3 + 4
    assert clock.sleeps == [1.0, 2.0, 1.0, 2.0, 4.0]


async def test_posting_retries_only_when_x_surely_did_not_post(
    fake_x: FakeX, clock: FakeClock
) -> None:
    async with connector(fake_x, clock, retry=x_retry(retries=3)) as x:
        fake_x.fail_next(2, status=503, endpoint="create_tweet")  # unavailable: not posted
        await x.post("survives two 503s")
        fake_x.fail_next(1, status=500, endpoint="create_tweet")  # may have been posted
        with pytest.raises(DeliveryError, match="outcome unknown"):
            await x.post("not retried")
    assert [t.text for t in fake_x.posted] == ["survives two 503s"]
    assert fake_x.calls("create_tweet") == 3 + 1
    assert clock.sleeps == [1.0, 2.0]


async def test_a_failed_thread_resumes_without_reposting_its_first_parts(
    fake_x: FakeX, clock: FakeClock
) -> None:
    mention = fake_x.add_mention("long answer please")
    store = InMemoryStore()
    await store.open()
    text = "A sentence that goes on for a while. " * 20
    async with connector(fake_x, clock, retry=x_retry(retries=0)) as x:
        x.bind_store(store)
        fake_x.fail_next(1, status=503, endpoint="create_tweet")
        with pytest.raises(ConnectorError):
            await x.send(_request(mention.id), Reply(text=text))
        assert fake_x.posted == []
        await x.send(_request(mention.id), Reply(text=text))  # the runner's retry
    first = len(fake_x.posted)
    async with connector(fake_x, clock, retry=x_retry(retries=0)) as x:
        x.bind_store(store)
        # fail after the first part: the second send must resume, not start over
        mention2 = fake_x.add_mention("again")
        posted_before = len(fake_x.posted)
        original = x._poster.post_one
        calls = 0

        async def flaky(text: str, in_reply_to: str | None, files: Sequence[File] = ()) -> str:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise ConnectorError("network went away")
            return await original(text, in_reply_to, files)

        x._poster.post_one = flaky  # type: ignore[method-assign]
        with pytest.raises(ConnectorError):
            await x.send(_request(mention2.id), Reply(text=text))
        await x.send(_request(mention2.id), Reply(text=text))
    await store.close()
    thread = fake_x.thread(mention2)
    assert len(thread) == len(fake_x.posted) - posted_before == first
    assert [t.text.rsplit(" ", 1)[1] for t in thread] == [
        f"{i}/{first}" for i in range(1, first + 1)
    ]


async def test_the_daily_cap_stops_posting_with_a_clear_log_line(
    fake_x: FakeX, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = InMemoryStore()
    await store.open()
    mention = fake_x.add_mention("hi")
    async with connector(fake_x, clock, daily_post_cap=2) as x:
        x.bind_store(store)
        await x.post("one")
        await x.post("two")
        with caplog.at_level(logging.WARNING, logger="connectors.x"):
            with pytest.raises(DailyPostCapError):
                await x.send(_request(mention.id), Reply(text="three"))
    assert [t.text for t in fake_x.posted] == ["one", "two"]
    [line] = [r.getMessage() for r in caplog.records if "daily post cap" in r.getMessage()]
    assert "2 of 2 tweets used" in line and f"reply to x:{mention.id}" in line
    # the count lives in the store: a new connector on the same store is capped too
    async with connector(fake_x, clock, daily_post_cap=2) as again:
        again.bind_store(store)
        assert await again.posts_today() == 2
        with pytest.raises(DailyPostCapError):
            await again.post("four")
        clock.now += 86_400  # the next UTC day
        await again.post("a new day")
    await store.close()
    assert [t.text for t in fake_x.posted] == ["one", "two", "a new day"]


async def test_dry_run_posts_nothing_and_logs_instead(
    fake_x: FakeX, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    mention = fake_x.add_mention("hi")
    with caplog.at_level(logging.INFO, logger="connectors.x"):
        async with connector(fake_x, clock, dry_run=True) as x:
            await x.send(_request(mention.id), Reply(text="word " * 100))
    assert fake_x.posted == [] and fake_x.calls("create_tweet") == 0
    lines = [r.getMessage() for r in caplog.records if "dry run" in r.getMessage()]
    assert len(lines) == 2 and f"reply to {mention.id}" in lines[0]


async def test_dry_run_needs_no_credentials() -> None:
    x = XConnector(dry_run=True)
    async with x:
        assert await x.post("nothing is sent") == ["dry-run-1"]


def test_settings_come_from_x_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_POLL_INTERVAL", "15")
    monkeypatch.setenv("X_DAILY_POST_CAP", "17")
    monkeypatch.setenv("X_DRY_RUN", "true")
    x = XConnector.from_env({"X_API_BASE": "http://127.0.0.1:1"})
    assert (x.poll_interval, x.daily_post_cap, x.dry_run, x.api_base) == (
        15.0,
        17,
        True,
        "http://127.0.0.1:1",
    )
    assert "hunter2" not in repr(XSettings(api_secret=SecretStr("hunter2")))


async def test_a_mentions_links_arrive_as_written_not_as_t_co(
    fake_x: FakeX, clock: FakeClock
) -> None:
    sink = RecordingSink()
    fake_x.add_mention("is https://example.com/a?b=1 safe?")
    async with connector(fake_x, clock, first_run="all") as x:
        await x.poll(sink)
    [message] = sink.messages
    assert message.text == "is https://example.com/a?b=1 safe?"
