"""The HTTP connector's pure parts: auth, rate limits, retry policy, body parsing, OpenAI shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from agent_runner.message import Reply
from connectors.http.auth import Authenticator, check_bearer, check_signature, sign
from connectors.http.errors import RequestError
from connectors.http.messages import (
    CALLBACK_KEY,
    answer_json,
    callback_url,
    message_json,
    parse_message_body,
)
from connectors.http.openai import (
    chunk_json,
    completion_json,
    estimate_tokens,
    parse_chat_request,
    sse_event,
    usage_json,
)
from connectors.http.ratelimit import Bucket, RateLimiter, take
from connectors.webhook import ReplyIndex, payload, verify

NOW = datetime(2026, 1, 1, tzinfo=UTC)


# -- auth ------------------------------------------------------------------------------
def test_signature_round_trip() -> None:
    body = b'{"text":"hi"}'
    signature = sign("k", "1000", body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert check_signature("k", timestamp="1000", signature=signature, body=body, now=1000) is None


@pytest.mark.parametrize(
    ("timestamp", "signature", "body", "now", "reason"),
    [
        (None, "sha256=00", b"x", 1000.0, "missing"),
        ("1000", None, b"x", 1000.0, "missing"),
        ("soon", "sha256=00", b"x", 1000.0, "not a Unix time"),
        ("nan", "sha256=00", b"x", 1000.0, "not a Unix time"),
        ("1000", "SIG", b"x", 1000.0 + 301, "outside the allowed window"),
        ("1000", "SIG", b"x", 1000.0 - 301, "outside the allowed window"),
        ("1000", "SIG", b"tampered", 1000.0, "does not match"),
        ("1000", "sha256=" + "0" * 64, b"x", 1000.0, "does not match"),
    ],
)
def test_signature_refusals(
    timestamp: str | None, signature: str | None, body: bytes, now: float, reason: str
) -> None:
    if signature == "SIG":
        signature = sign("k", "1000", b"x")
    result = check_signature("k", timestamp=timestamp, signature=signature, body=body, now=now)
    assert result is not None and reason in result


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("Bearer t0ken", True),
        ("bearer   t0ken ", True),
        ("Bearer wrong", False),
        ("Basic t0ken", False),
        ("Bearer", False),
        (None, False),
        ("", False),
    ],
)
def test_bearer(header: str | None, ok: bool) -> None:
    assert (check_bearer("t0ken", header) is None) is ok


def test_authenticator_accepts_either_when_both_configured() -> None:
    auth = Authenticator(token="t", hmac_secret="k", clock=lambda: 50.0)
    body = b"{}"
    assert auth.check({"Authorization": "Bearer t"}, body) is None
    signed = {"X-Timestamp": "50", "X-Signature": sign("k", "50", body)}
    assert auth.check(signed, body) is None
    reason = auth.check({}, body)
    assert reason is not None and "Authorization" in reason and "X-Signature" in reason
    assert Authenticator().check({}, b"") is None


# -- rate limits -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("bucket", "now", "expected_tokens", "wait"),
    [
        (None, 0.0, 2.0, 0.0),  # a new client starts full (capacity 3)
        (Bucket(0.0, 0.0), 0.0, 0.0, 1.0),  # empty: wait one token's time
        (Bucket(0.0, 0.0), 0.5, 0.5, 0.5),  # half refilled
        (Bucket(0.0, 0.0), 1.0, 0.0, 0.0),  # refilled one token, taken
        (Bucket(0.0, 0.0), 100.0, 2.0, 0.0),  # capped at capacity
        (Bucket(1.0, 10.0), 5.0, 0.0, 0.0),  # a clock going back adds nothing
    ],
)
def test_take(bucket: Bucket | None, now: float, expected_tokens: float, wait: float) -> None:
    state, waited = take(bucket, now=now, rate=1.0, capacity=3.0)
    assert waited == pytest.approx(wait)
    assert state.tokens == pytest.approx(expected_tokens)
    assert state.updated == now


def test_rate_limiter_per_client_with_injected_clock() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0], max_clients=2)
    assert [limiter.hit("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]
    assert limiter.hit("b") == 0.0  # another client has its own bucket
    now[0] = 1.0
    assert limiter.hit("a") == 0.0
    limiter.hit("c")
    assert len(limiter) == 2  # least recently seen ("b") evicted
    with pytest.raises(ValueError):
        RateLimiter(per_minute=0)


# -- /v1/messages bodies ---------------------------------------------------------------
def parse(data: object) -> object:
    return parse_message_body(data, source="http", new_id=lambda: "gen-1", now=NOW)


def test_minimal_body_gets_server_fields() -> None:
    message = parse_message_body({"text": "hi"}, source="http", new_id=lambda: "g", now=NOW)
    assert (message.id, message.conversation_id, message.source) == ("g", "g", "http")
    assert message.author.id == "http-client"
    assert message.created_at == NOW


def test_full_body() -> None:
    message = parse_message_body(
        {
            "id": "c-1",
            "conversation_id": "alice",
            "author": {"id": "alice", "name": "Alice"},
            "text": "hello",
            "metadata": {"k": [1, 2]},
            "callback_url": "https://example.com/cb",
        },
        source="http",
        new_id=lambda: "unused",
        now=NOW,
    )
    assert message.key == "http:c-1"
    assert callback_url(message) == "https://example.com/cb"
    assert message.metadata["k"] == [1, 2]
    shown = message_json(message)
    assert CALLBACK_KEY not in json.dumps(shown)
    assert shown["metadata"] == {"k": [1, 2]}
    answer = answer_json(message, [Reply(text="a"), Reply(text="b", metadata={"x": 1})])
    assert answer == {
        "id": "c-1",
        "conversation_id": "alice",
        "replies": [{"text": "a"}, {"text": "b", "metadata": {"x": 1}}],
    }


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ([], "JSON object"),
        ("hi", "JSON object"),
        (None, "JSON object"),
        ({"text": "hi", "source": "discord"}, "set by the server"),
        ({"text": "hi", "created_at": "2020-01-01T00:00:00Z"}, "set by the server"),
        ({"text": "hi", "bogus": 1}, "unknown fields: bogus"),
        ({"text": ""}, "text is empty"),
        ({"text": 5}, "text"),
        ({"text": "hi", "id": 7}, "id"),
        ({"text": "hi", "id": ""}, "id"),
        ({"text": "hi", "author": "bob"}, "author"),
        ({"text": "hi", "depth": -1}, "depth"),
        ({"text": "hi", "callback_url": "ftp://x"}, "callback_url"),
        ({"text": "hi", "callback_url": "http://"}, "callback_url"),
        ({"text": "hi", "callback_url": "http://h:99999/"}, "callback_url"),
        ({"text": "hi", "callback_url": 3}, "callback_url"),
        ({"text": "hi", "metadata": {"http.callback_url": "http://x"}}, "reserved"),
        ({"text": "hi", "metadata": [1]}, "metadata"),
    ],
)
def test_invalid_bodies_are_422(data: object, reason: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse(data)
    assert caught.value.status == 422
    assert reason in caught.value.message


# -- OpenAI shapes ---------------------------------------------------------------------
def test_chat_request_takes_the_last_user_message() -> None:
    chat = parse_chat_request(
        {
            "model": "m",
            "stream": True,
            "user": "u1",
            "messages": [
                {"role": "system", "content": "be nice"},
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "ok"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image_url", "image_url": {"url": "https://e/i.png"}},
                    ],
                },
            ],
        }
    )
    assert (chat.text, chat.model, chat.stream, chat.user) == ("look", "m", True, "u1")
    assert chat.attachments == ({"url": "https://e/i.png"},)


@pytest.mark.parametrize(
    "data",
    [
        [],
        {},
        {"messages": []},
        {"messages": "hi"},
        {"messages": [1]},
        {"messages": [{"role": "wizard", "content": "x"}]},
        {"messages": [{"role": "system", "content": "x"}]},
        {"messages": [{"role": "user", "content": 5}]},
        {"messages": [{"role": "user", "content": [{"type": "audio"}]}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
        {"messages": [{"role": "user", "content": "x"}], "stream": "yes"},
        {"messages": [{"role": "user", "content": "x"}], "model": 3},
        {"messages": [{"role": "user", "content": "x"}], "user": ""},
    ],
)
def test_invalid_chat_requests_are_422(data: object) -> None:
    with pytest.raises(RequestError) as caught:
        parse_chat_request(data)
    assert caught.value.status == 422


def test_openai_shapes() -> None:
    usage = usage_json(3, estimate_tokens("hey"))
    body = completion_json(
        completion_id="chatcmpl-1", created=5, model="m", text="hey", usage=usage
    )
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "hey"}
    chunk = chunk_json(completion_id="c", created=5, model="m", delta={"content": "h"})
    event = sse_event(chunk)
    assert event.startswith(b"data: {") and event.endswith(b"\n\n")
    assert json.loads(event[6:])["choices"][0]["delta"] == {"content": "h"}


# -- webhook pieces --------------------------------------------------------------------
def test_reply_index_keeps_the_index_of_a_retry() -> None:
    index = ReplyIndex(size=2)
    first, second = Reply(text="a"), Reply(text="b")
    assert index.index("m", first) == 0
    assert index.index("m", first) == 0  # a retry of a failed delivery
    index.delivered("m", 0)
    assert index.index("m", second) == 1
    index.delivered("m", 1)
    assert index.index("m", second) == 2  # the same text again, after a success: a new reply
    assert index.index("n", first) == 0


def test_payload_and_verify() -> None:
    message = parse_message_body({"id": "9", "text": "hi"}, source="http", new_id=str, now=NOW)
    body = payload(message, Reply(text="yo"), 1)
    assert body["idempotency_key"] == "http:9#1"
    assert body["reply"] == {"text": "yo"}
    raw = json.dumps(body).encode()
    headers = {"X-Timestamp": "100", "X-Signature": sign("s", "100", raw)}
    assert verify("s", headers, raw, now=100.0) is None
    assert verify("other", headers, raw, now=100.0) == "signature does not match"


# -- waiting requests ------------------------------------------------------------------
async def test_pending_waits_for_done_once_the_runner_signals_completion() -> None:
    from connectors.http.pending import Pending

    pending = Pending(cache_size=2)
    # Before any complete(): the first reply answers the request.
    waiter = pending.open("k1")
    pending.reply("k1", Reply(text="a"))
    assert await pending.collect(waiter, within=1) == [Reply(text="a")]
    pending.close(waiter)
    assert pending.answer("k1") == [Reply(text="a")]
    # After a complete(): every reply until done, and done with none is an empty answer.
    pending.done("k1")
    waiter = pending.open("k2")
    with pytest.raises(KeyError):
        pending.open("k2")
    pending.reply("k2", Reply(text="b"))
    pending.reply("k2", Reply(text="c"))
    pending.done("k2")
    assert await pending.collect(waiter, within=1) == [Reply(text="b"), Reply(text="c")]
    pending.close(waiter)
    waiter = pending.open("k3")
    pending.done("k3")
    assert await pending.collect(waiter, within=1) == []
    pending.close(waiter)
    assert pending.answer("k3") == []
    assert pending.answer("k1") is None  # evicted (cache of 2)
    waiter = pending.open("k4")
    assert await pending.collect(waiter, within=0.01) is None  # timed out, nothing came
    assert pending.reply("k4", Reply(text="late")) is True
    pending.close(waiter)
    assert pending.reply("k4", Reply(text="later")) is False
    assert len(pending) == 0
