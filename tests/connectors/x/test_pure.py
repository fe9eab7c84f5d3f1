"""Pure X helpers: rate-limit arithmetic, mention parsing, OAuth 1.0a signatures."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from oauthlib.oauth1 import Client as OAuthClient

from agent_runner.backoff import RetryPolicy
from agent_runner.errors import InvalidMessageError
from agent_runner.message import File
from agent_runner.testing.x import oauth
from connectors.x.media import (
    Post,
    attachments,
    check_files,
    media_by_key,
    media_groups,
    with_media,
)
from connectors.x.mentions import strip_leading_mentions, tweet_message, unescape, written_text
from connectors.x.ratelimit import (
    RateWindow,
    pace,
    parse_window,
    until_reset,
    utc_day,
    wait_for_window,
)

POLICY = RetryPolicy(retries=3, base=1.0, cap=8.0, max_retry_after=100.0, max_total=100.0)


@pytest.mark.parametrize(
    ("headers", "window"),
    [
        (
            {
                "x-rate-limit-limit": "180",
                "x-rate-limit-remaining": "5",
                "x-rate-limit-reset": "99",
            },
            RateWindow(180, 5, 99.0),
        ),
        ({"x-rate-limit-remaining": "0", "x-rate-limit-reset": "7"}, RateWindow(None, 0, 7.0)),
        ({"x-rate-limit-remaining": "x", "x-rate-limit-reset": "7"}, None),
        ({}, None),
    ],
)
def test_parse_window(headers: dict[str, str], window: RateWindow | None) -> None:
    assert parse_window(headers) == window


@pytest.mark.parametrize(
    ("window", "now", "wait"),
    [
        (None, 0.0, 0.0),
        (RateWindow(10, 3, 100.0), 50.0, 0.0),
        (RateWindow(10, 0, 100.0), 50.0, 51.0),  # until the reset, plus a second
        (RateWindow(10, 0, 100.0), 150.0, 0.0),  # reset already passed
    ],
)
def test_wait_for_window(window: RateWindow | None, now: float, wait: float) -> None:
    assert wait_for_window(window, now) == wait


@pytest.mark.parametrize(
    ("reset", "now", "attempt", "delay"),
    [(130.0, 100.0, 1, 31.0), (90.0, 100.0, 1, 0.0), (None, 100.0, 1, 1.0), (None, 0.0, 3, 4.0)],
)
def test_rate_limited_delay(reset: float | None, now: float, attempt: int, delay: float) -> None:
    assert POLICY.wait(attempt, retry_after=until_reset(reset, now)) == delay


@pytest.mark.parametrize(
    ("window", "now", "interval", "delay"),
    [
        (None, 100.0, 5.0, 5.0),
        (RateWindow(180, 179, 500.0), 100.0, 5.0, 5.0),  # plenty left: the interval
        (RateWindow(180, 3, 130.0), 100.0, 5.0, 10.0),  # 3 calls for 30 s: one per 10 s
        (RateWindow(180, 0, 130.0), 100.0, 5.0, 31.0),  # spent: after the reset
        (RateWindow(180, 0, 90.0), 100.0, 5.0, 5.0),  # reset already passed
    ],
)
def test_pace(window: RateWindow | None, now: float, interval: float, delay: float) -> None:
    assert pace(window, now, interval) == delay


@pytest.mark.parametrize(("attempt", "delay"), [(1, 1.0), (2, 2.0), (4, 8.0), (11, 8.0)])
def test_backoff_is_capped(attempt: int, delay: float) -> None:
    assert POLICY.backoff(attempt) == delay


@pytest.mark.parametrize(
    ("delay", "waited", "attempt", "ok"),
    [
        (30.0, 0.0, 1, True),
        (30.0, 70.0, 2, True),  # exactly the cap
        (30.0, 71.0, 2, False),  # over the total wait cap
        (1.0, 0.0, 4, False),  # out of retries
        (101.0, 0.0, 1, False),  # one wait longer than the cap
    ],
)
def test_may_wait(delay: float, waited: float, attempt: int, ok: bool) -> None:
    wait = POLICY.wait(attempt, retry_after=delay, waited=waited)
    assert (wait is not None) is ok


@pytest.mark.parametrize(
    ("now", "day"), [(0.0, "1970-01-01"), (86_399.0, "1970-01-01"), (86_400.0, "1970-01-02")]
)
def test_utc_day(now: float, day: str) -> None:
    assert utc_day(now) == day


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@bot hello", "hello"),
        ("@Bot @bot hello", "hello"),
        ("@bot @alice what do you think?", "@alice what do you think?"),
        ("@alice @bot thanks", "@alice thanks"),
        ("hello @bot", "hello @bot"),  # only the leading run
        ("@botany is a science", "@botany is a science"),
        ("@bot", ""),
    ],
)
def test_strip_leading_mentions(text: str, expected: str) -> None:
    assert strip_leading_mentions(text, "bot") == expected


def test_unescape_undoes_xs_html_escaping_only() -> None:
    assert unescape("a &amp; b &lt;c&gt; &quot;") == "a & b <c> &quot;"


def _tweet(**fields: object) -> dict[str, object]:
    return {
        "id": "20",
        "text": "@bot hi &amp; bye",
        "author_id": "7",
        "conversation_id": "10",
        "created_at": "2026-01-02T03:04:05.000Z",
        "referenced_tweets": [{"type": "replied_to", "id": "19"}],
        **fields,
    }


def test_tweet_message_maps_the_fields() -> None:
    users = {"7": {"id": "7", "username": "alice", "name": "Alice"}}
    message = tweet_message(_tweet(), source="x", username="bot", users=users)
    assert (message.id, message.conversation_id, message.source) == ("20", "10", "x")
    assert message.text == "hi & bye"
    assert message.reply_to == "19"
    assert message.author.id == "7" and message.author.name == "alice"
    assert not message.author.is_bot
    assert message.metadata["text"] == "@bot hi & bye"
    assert message.created_at.isoformat() == "2026-01-02T03:04:05+00:00"


@pytest.mark.parametrize("known", ["7", "alice"])
def test_known_bots_are_marked(known: str) -> None:
    users = {"7": {"id": "7", "username": "Alice", "name": "Alice"}}
    message = tweet_message(_tweet(), source="x", username="bot", users=users, bot_accounts={known})
    assert message.author.is_bot


def test_a_bare_mention_is_not_a_message() -> None:
    with pytest.raises(InvalidMessageError):
        tweet_message(_tweet(text="@bot"), source="x", username="bot", users={})


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "https://api.twitter.com/2/users/me"),
        ("GET", "https://api.twitter.com/2/users/1/mentions?max_results=100&tweet.fields=a%2Cb"),
        ("POST", "https://api.twitter.com/2/tweets"),
        ("GET", "http://127.0.0.1:8080/2/users/1/mentions?since_id=5&q=a+b%20c%3A~"),
    ],
)
def test_signature_matches_oauthlib(method: str, url: str) -> None:
    client = OAuthClient("ck", "cs é", "tok", "ts&x")
    _, headers, _ = client.sign(url, method)
    params = oauth.parse_authorization(headers["Authorization"])
    assert params is not None
    parts = urlsplit(url)
    expected = oauth.sign(
        method,
        oauth.base_uri(parts.scheme, parts.netloc, parts.path),
        parse_qsl(parts.query, keep_blank_values=True),
        params,
        consumer_secret="cs é",
        token_secret="ts&x",
    )
    assert oauth.signatures_match(expected, params["oauth_signature"])
    wrong = oauth.sign(
        method,
        oauth.base_uri(parts.scheme, parts.netloc, parts.path),
        parse_qsl(parts.query, keep_blank_values=True),
        params,
        consumer_secret="cs",
        token_secret="ts&x",
    )
    assert not oauth.signatures_match(wrong, params["oauth_signature"])


@pytest.mark.parametrize(
    ("scheme", "host", "uri"),
    [
        ("HTTPS", "API.twitter.com:443", "https://api.twitter.com/p"),
        ("http", "example.com:80", "http://example.com/p"),
        ("http", "127.0.0.1:8080", "http://127.0.0.1:8080/p"),
    ],
)
def test_base_uri(scheme: str, host: str, uri: str) -> None:
    assert oauth.base_uri(scheme, host, "/p") == uri


def test_parse_authorization_rejects_other_schemes() -> None:
    assert oauth.parse_authorization("Bearer abc") is None
    assert oauth.parse_authorization('OAuth a="1%2C", b="x"') == {"a": "1,", "b": "x"}


# -- media -----------------------------------------------------------------------------------
def _files(*names: str) -> list[File]:
    return [File(name=name, data=b"x") for name in names]


@pytest.mark.parametrize(
    ("names", "sizes"),
    [
        (("a.png",) * 4, [4]),
        (("a.png",) * 5, [4, 1]),
        (("a.png", "b.mp4", "c.png"), [1, 1, 1]),
        (("a.gif", "b.jpg", "c.webp"), [1, 2]),
        (("a.png", "b.png", "c.gif", "d.gif"), [2, 1, 1]),
        ((), []),
    ],
)
def test_media_groups_take_four_images_or_one_gif_or_video(
    names: tuple[str, ...], sizes: list[int]
) -> None:
    files = _files(*names)
    groups = media_groups(files, check_files(files))
    assert [len(g) for g in groups] == sizes
    assert [f for g in groups for f in g] == files  # order kept


def test_groups_past_the_parts_become_posts_of_media_only() -> None:
    a, b = _files("a.png", "b.mp4")
    assert with_media(["one", "two"], [[a]]) == [Post("one", (a,)), Post("two")]
    assert with_media(["one"], [[a], [b]]) == [Post("one", (a,)), Post("", (b,))]
    assert with_media([], [[a]]) == [Post("", (a,))]


def test_the_text_as_written_has_its_links_expanded_and_no_media_link() -> None:
    tweet = {
        "text": "@bot what is this? https://t.co/AbC",
        "entities": {"urls": [{"url": "https://t.co/AbC", "media_key": "3_1"}]},
    }
    assert written_text(tweet) == "@bot what is this?"
    link = {
        "text": "see https://t.co/XyZ and https://t.co/XyZ",
        "entities": {
            "urls": [
                {"url": "https://t.co/XyZ", "expanded_url": "https://e.com/a"},
                {"url": "https://t.co/XyZ", "expanded_url": "https://e.com/b"},
            ]
        },
    }
    assert written_text(link) == "see https://e.com/a and https://e.com/b"
    assert written_text({"text": "plain  "}) == "plain  "


def test_a_photo_and_a_gif_become_attachments() -> None:
    tweet = {"attachments": {"media_keys": ["3_1", "16_2", "9_unknown"]}}
    media = media_by_key(
        {
            "media": [
                {"media_key": "3_1", "type": "photo", "url": "https://pbs.twimg.com/media/A.png"},
                {
                    "media_key": "16_2",
                    "type": "animated_gif",
                    "preview_image_url": "https://pbs.twimg.com/tweet_video_thumb/B.jpg",
                    "alt_text": "a cat",
                },
            ]
        }
    )
    found, details = attachments(tweet, media)
    assert [(a["filename"], a["content_type"], a["id"]) for a in found] == [
        ("A.png", "image/png", "3_1"),
        ("gif-preview-B.jpg", "image/jpeg", "16_2"),
    ]
    assert details[1]["alt_text"] == "a cat"
