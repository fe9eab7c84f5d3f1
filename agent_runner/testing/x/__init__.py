"""A fake X (Twitter) API v2 on 127.0.0.1, to test X bots offline with the real SDK.

It speaks the endpoints a mentions bot uses, as tweepy's ``AsyncClient`` calls them:

- ``GET /2/users/me`` (OAuth 1.0a user context),
- ``GET /2/users/:id`` (user context or app-only bearer token),
- ``GET /2/users/:id/mentions`` (user context or app-only bearer token; ``since_id``,
  ``until_id``, ``max_results``, ``pagination_token``, ``expansions``, ``tweet.fields``,
  ``user.fields``; answers ``data``/``includes``/``meta`` with ``newest_id``, ``oldest_id``
  and ``next_token``),
- ``POST /2/tweets`` (user context; ``text``, ``reply.in_reply_to_tweet_id``,
  ``media.media_ids``) -> 201,
- media upload v2 (user context): ``POST /2/media/upload/initialize``,
  ``/2/media/upload/{id}/append`` and ``/finalize``, ``GET /2/media/upload?command=STATUS``,
  with X's size and type limits (:mod:`agent_runner.testing.x.media`),
- ``GET /pbs/...``: the files of tweets' media, as ``pbs.twimg.com`` serves them.

Every OAuth 1.0a request is verified: the fake recomputes the HMAC-SHA1 signature over the
method, the URL the client signed (``https://`` + the ``Host`` header + path), the query and
the ``oauth_*`` parameters with the secrets it knows, and answers 401 on any mismatch, an
unknown key or token, a stale timestamp or a replayed nonce. Bearer tokens are checked too.
Every response carries ``x-rate-limit-limit/remaining/reset``; a spent window answers 429,
and :meth:`FakeX.rate_limit_next` forces 429s on demand.

Example, a pytest test of your bot through the whole runner::

    from agent_runner import AgentRuntime
    from agent_runner.store import InMemoryStore
    from agent_runner.testing.x import FakeX
    from connectors.x import XConnector

    async def test_my_bot_answers_in_thread() -> None:
        async with FakeX() as fake:
            x = XConnector.from_env(fake.env(), poll_interval=0.05, first_run="all")
            runtime = AgentRuntime([x], [x], my_agent, store=InMemoryStore())
            task = asyncio.create_task(runtime.run())
            mention = fake.add_mention("what is 2+2?", author="alice")
            [reply] = await fake.wait_posted(1)
            assert reply.in_reply_to_tweet_id == mention.id
            await runtime.stop()
            await task

The connector reaches it through ``X_API_BASE`` (its session rewrites
``https://api.twitter.com`` to the fake's URL and keeps the ``Host`` header, so the
signatures the SDK computed for the real host still verify). A bot written directly on
tweepy can do the same with :func:`connectors.x.api_base_middleware`::

    session = aiohttp.ClientSession(middlewares=(api_base_middleware(fake.url),))
    client = tweepy.asynchronous.AsyncClient(consumer_key=fake.consumer_key, ...)
    client.session = session

Test hooks: :meth:`FakeX.add_mention` / :meth:`FakeX.add_tweet` publish tweets (with
``media=[("photo.png", data)]``), :attr:`FakeX.uploads`, :attr:`FakeX.media` and
:meth:`FakeX.media_of` show what the bot uploaded and attached, :attr:`FakeX.downloads`
what was fetched,
:attr:`FakeX.posted` and :meth:`FakeX.thread` show what the bot tweeted,
:meth:`FakeX.rate_limit_next` and :meth:`FakeX.fail_next` inject 429s and 5xx,
:meth:`FakeX.wait_posted`, :meth:`FakeX.wait_calls` and :meth:`FakeX.wait_for` await events
(no sleeping), :attr:`FakeX.requests` records every request with how it authenticated.

Inside: ``server`` (:class:`FakeX`), ``endpoints`` (what each endpoint answers), ``auth`` and
``oauth`` (who a request is), ``limits`` (rate-limit windows, forced failures), ``timeline``
(users and tweets as API v2 renders and pages them), ``media`` (media and uploads).
"""

from agent_runner.testing.x.endpoints import MAX_CODE_POINTS
from agent_runner.testing.x.limits import DEFAULT_LIMITS, WINDOW_SECONDS, X_LIMITS
from agent_runner.testing.x.media import FakeMedia, FakeUpload
from agent_runner.testing.x.server import FakeRequest, FakeX
from agent_runner.testing.x.timeline import FakeTweet, FakeUser

__all__ = [
    "DEFAULT_LIMITS",
    "FakeMedia",
    "FakeRequest",
    "FakeTweet",
    "FakeUpload",
    "FakeUser",
    "FakeX",
    "MAX_CODE_POINTS",
    "WINDOW_SECONDS",
    "X_LIMITS",
]
