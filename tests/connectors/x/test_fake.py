"""The fake X itself, driven by a plain tweepy AsyncClient as a user's own bot would."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import tweepy
from tweepy.asynchronous import AsyncClient

from agent_runner.testing.x import X_LIMITS, FakeX
from connectors.x import api_base_middleware
from tests.connectors.x._fixtures import FakeClock, clock, fake_x

__all__ = ["clock", "fake_x"]  # fixtures


@pytest.fixture
async def session(fake_x: FakeX) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(middlewares=(api_base_middleware(fake_x.url),)) as s:
        yield s


def client(fake: FakeX, session: aiohttp.ClientSession, **overrides: str) -> AsyncClient:
    options = {
        "bearer_token": fake.bearer_token,
        "consumer_key": fake.consumer_key,
        "consumer_secret": fake.consumer_secret,
        "access_token": fake.access_token,
        "access_token_secret": fake.access_token_secret,
        **overrides,
    }
    c = AsyncClient(**options)
    c.session = session
    return c


async def test_users_me_and_posting_a_reply(fake_x: FakeX, session: aiohttp.ClientSession) -> None:
    x = client(fake_x, session)
    me = await x.get_me()
    assert (me.data.id, me.data.username) == (int(fake_x.me.id), "agent_bot")
    mention = fake_x.add_mention("hello")
    created = await x.create_tweet(text="hi back", in_reply_to_tweet_id=mention.id)
    [posted] = fake_x.posted
    assert created.data["id"] == posted.id and posted.in_reply_to_tweet_id == mention.id
    assert posted.conversation_id == mention.conversation_id
    assert [r.status for r in fake_x.requests] == [200, 201]


async def test_mentions_pages_with_includes_and_meta(
    fake_x: FakeX, session: aiohttp.ClientSession
) -> None:
    tweets = [fake_x.add_mention(f"m{i}", author=f"u{i}") for i in range(7)]
    fake_x.add_tweet("not a mention", author="someone")
    x = client(fake_x, session)
    first = await x.get_users_mentions(
        fake_x.me.id, max_results=5, expansions="author_id", tweet_fields=["created_at"]
    )
    assert [t.id for t in first.data] == [int(t.id) for t in reversed(tweets[2:])]
    assert first.meta["newest_id"] == tweets[-1].id and first.meta["result_count"] == 5
    assert {u.username for u in first.includes["users"]} == {f"u{i}" for i in range(2, 7)}
    assert first.data[0].created_at is not None
    second = await x.get_users_mentions(
        fake_x.me.id, max_results=5, pagination_token=first.meta["next_token"]
    )
    assert [t.id for t in second.data] == [int(tweets[1].id), int(tweets[0].id)]
    assert "next_token" not in second.meta
    newer = await x.get_users_mentions(fake_x.me.id, since_id=tweets[-1].id)
    assert newer.data is None and newer.meta == {"result_count": 0}


async def test_bearer_token_reads_but_cannot_post(
    fake_x: FakeX, session: aiohttp.ClientSession
) -> None:
    app = AsyncClient(bearer_token=fake_x.bearer_token)
    app.session = session
    result = await app.get_users_mentions(fake_x.me.id)
    assert result.meta == {"result_count": 0}
    with pytest.raises(tweepy.Forbidden, match="Unsupported Authentication|forbidden"):
        await app.get_me(user_auth=False)


@pytest.mark.parametrize(
    "override",
    [
        {"consumer_secret": "nope"},
        {"access_token_secret": "nope"},
        {"consumer_key": "someone-else"},
    ],
)
async def test_signatures_are_checked(
    fake_x: FakeX, session: aiohttp.ClientSession, override: dict[str, str]
) -> None:
    with pytest.raises(tweepy.Unauthorized):
        await client(fake_x, session, **override).create_tweet(text="forged")
    assert fake_x.posted == []


async def test_invalid_parameters_are_refused_like_x(
    fake_x: FakeX, session: aiohttp.ClientSession
) -> None:
    x = client(fake_x, session)
    with pytest.raises(tweepy.BadRequest, match="max_results"):
        await x.get_users_mentions(fake_x.me.id, max_results=500)
    with pytest.raises(tweepy.BadRequest, match="tweet.fields"):
        await x.get_users_mentions(fake_x.me.id, tweet_fields=["no_such_field"])
    with pytest.raises(tweepy.Forbidden, match="too long"):
        await x.create_tweet(text="x" * 281)
    with pytest.raises(tweepy.Forbidden, match="deleted or not visible"):
        await x.create_tweet(text="to nowhere", in_reply_to_tweet_id="42")


async def test_rate_limit_headers_and_forced_429s(clock: FakeClock) -> None:
    async with FakeX(clock=clock, limits=X_LIMITS) as fake_x:
        async with aiohttp.ClientSession(middlewares=(api_base_middleware(fake_x.url),)) as s:
            await _rate_limit_headers_and_forced_429s(fake_x, s, clock)


async def _rate_limit_headers_and_forced_429s(
    fake_x: FakeX, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    x = client(fake_x, session)
    x.return_type = aiohttp.ClientResponse
    ok = await x.get_users_mentions(fake_x.me.id)
    assert ok.headers["x-rate-limit-limit"] == "180"
    assert ok.headers["x-rate-limit-remaining"] == "179"
    fake_x.rate_limit_next(2, reset_in=42, endpoint="mentions")
    for _ in range(2):
        with pytest.raises(tweepy.TooManyRequests) as info:
            await x.get_users_mentions(fake_x.me.id)
        assert info.value.response.headers["x-rate-limit-remaining"] == "0"
        assert info.value.reset_time == int(clock.now + 42)
    again = await x.get_users_mentions(fake_x.me.id)
    assert again.status == 200
    fake_x.fail_next(1, status=503)
    with pytest.raises(tweepy.TwitterServerError):
        await x.get_me()


async def test_a_spent_window_answers_429_until_it_resets(clock: FakeClock) -> None:
    async with FakeX(clock=clock, limits={"mentions": 1}) as fake:
        async with aiohttp.ClientSession(middlewares=(api_base_middleware(fake.url),)) as s:
            x = client(fake, s)
            await x.get_users_mentions(fake.me.id)
            with pytest.raises(tweepy.TooManyRequests):
                await x.get_users_mentions(fake.me.id)
            clock.now += 901
            await x.get_users_mentions(fake.me.id)
    assert [r.status for r in fake.requests] == [200, 429, 200]
