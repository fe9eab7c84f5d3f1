"""The HTTP connector end to end: a real port on 127.0.0.1, a real client, the real runner."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent_runner import AgentContext, Message
from agent_runner.outbound import OutboundGuard
from agent_runner.store import InMemoryStore, SQLiteStore
from connectors.http import HTTPConnector
from connectors.http.auth import sign
from connectors.webhook import verify
from tests.connectors._web_fixtures import Receiver, Recorder, running


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


def make_http(**options: Any) -> HTTPConnector:
    options.setdefault("port", 0)
    return HTTPConnector(**options)


async def post(
    client: aiohttp.ClientSession,
    url: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    **kw: Any,
) -> tuple[int, Any, aiohttp.ClientResponse]:
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    async with client.post(url, data=data, headers=headers, **kw) as resp:
        text = await resp.text()
        assert resp.content_type == "application/json", text
        return resp.status, json.loads(text), resp


async def test_round_trip_with_memory_and_the_sqlite_store(
    client: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async def agent(message: Message, context: AgentContext) -> str:
        earlier = [m.text for m in context.memory.messages if m.role == "user"]
        return f"you said {message.text} after {earlier}"

    from agent_runner.memory import ShortTermMemory

    http = make_http()
    store = SQLiteStore(tmp_path / "s.sqlite3")
    async with running([http], [http], agent, store=store, short_term_memory=ShortTermMemory()):
        url = f"{http.url}/v1/messages"
        status, body, _ = await post(client, url, {"text": "one", "conversation_id": "c"})
        assert status == 200
        assert body["conversation_id"] == "c" and body["id"]
        assert body["replies"] == [{"text": "you said one after []"}]
        status, body, _ = await post(client, url, {"text": "two", "conversation_id": "c"})
        assert body["replies"] == [{"text": "you said two after ['one']"}]


async def test_health_and_readiness(client: aiohttp.ClientSession) -> None:
    http = make_http()
    await http.open()
    try:
        async with client.get(f"{http.url}/healthz") as resp:
            assert resp.status == 200 and (await resp.json()) == {"status": "ok"}
        async with client.get(f"{http.url}/readyz") as resp:
            assert resp.status == 503
            assert "not ready" in (await resp.json())["error"]["message"]
        status, body, _ = await post(client, f"{http.url}/v1/messages", {"text": "early"})
        assert status == 503 and body["error"]["code"] == "not_ready"
        async with running([http], [http], Recorder()):
            async with client.get(f"{http.url}/readyz") as resp:
                assert resp.status == 200 and (await resp.json()) == {"status": "ready"}
    finally:
        await http.close()


async def test_auth_bearer_token(client: aiohttp.ClientSession) -> None:
    agent = Recorder()
    http = make_http(auth_token="s3cret-token")
    async with running([http], [http], agent):
        url = f"{http.url}/v1/messages"
        for headers, reason in [
            ({}, "missing Authorization"),
            ({"Authorization": "Bearer nope"}, "invalid bearer token"),
            ({"Authorization": "Basic s3cret-token"}, "not 'Bearer <token>'"),
        ]:
            status, body, resp = await post(client, url, {"text": "x"}, headers=headers)
            assert status == 401, body
            assert reason in body["error"]["message"]
            assert body["error"]["type"] == "authentication_error"
            assert resp.headers["WWW-Authenticate"] == "Bearer"
        auth = {"Authorization": "Bearer s3cret-token"}
        status, body, _ = await post(client, url, {"text": "ok"}, headers=auth)
        assert status == 200 and body["replies"] == [{"text": "echo: ok"}]
    assert [m.text for m in agent.seen] == ["ok"]


async def test_auth_hmac_signature(client: aiohttp.ClientSession) -> None:
    agent = Recorder()
    http = make_http(hmac_secret="k3y")
    async with running([http], [http], agent):
        url = f"{http.url}/v1/messages"
        raw = json.dumps({"text": "signed"}).encode()
        now = str(int(time.time()))
        good = {"X-Timestamp": now, "X-Signature": sign("k3y", now, raw)}
        status, body, _ = await post(client, url, raw=raw, headers=good)
        assert status == 200 and body["replies"] == [{"text": "echo: signed"}]
        cases = [
            ({}, "missing X-Timestamp"),
            ({"X-Timestamp": now, "X-Signature": sign("wrong", now, raw)}, "does not match"),
            ({"X-Timestamp": now, "X-Signature": sign("k3y", now, raw + b" ")}, "does not match"),
            ({"X-Timestamp": "1000", "X-Signature": sign("k3y", "1000", raw)}, "outside"),
        ]
        for headers, reason in cases:
            status, body, _ = await post(client, url, raw=raw, headers=headers)
            assert status == 401 and reason in body["error"]["message"], body
    assert [m.text for m in agent.seen] == ["signed"]


async def test_refusals_are_json_4xx_and_never_reach_the_agent(
    client: aiohttp.ClientSession,
) -> None:
    agent = Recorder()
    http = make_http(max_body_bytes=20_000)
    async with running([http], [http], agent):
        url = f"{http.url}/v1/messages"
        cases: list[tuple[bytes, int, str]] = [
            (b"{not json", 400, "invalid_json"),
            (b"", 400, "invalid_json"),
            (b"[" * 5000 + b"]" * 5000, 400, "invalid_json"),
            (b'{"text": NaN}', 400, "invalid_json"),
            (b"\xff\xfe", 400, "invalid_json"),
            (b'"just a string"', 422, "invalid_message"),
            (b'{"text": 12}', 422, "invalid_message"),
            (b'{"text": "   "}', 422, "invalid_message"),
            (b'{"text": "x", "id": 5}', 422, "invalid_message"),
            (b'{"text": "x", "source": "discord"}', 422, "invalid_message"),
            (b'{"text": "x", "surprise": true}', 422, "unknown_fields"),
            (b'{"text": "' + b"a" * 20_000 + b'"}', 413, "body_too_large"),
        ]
        for raw, status_wanted, code in cases:
            status, body, _ = await post(client, url, raw=raw)
            assert (status, body["error"]["code"]) == (status_wanted, code), (raw[:40], body)
            assert body["error"]["message"]

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(30):
                yield b"x" * 1000

        async with client.post(url, data=chunks()) as resp:  # no Content-Length: streamed
            assert resp.status == 413
            assert (await resp.json())["error"]["code"] == "body_too_large"
        async with client.get(f"{http.url}/nowhere") as resp:
            assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
        async with client.get(url) as resp:
            assert resp.status == 405
            assert (await resp.json())["error"]["code"] == "method_not_allowed"
        status, body, _ = await post(client, url, {"text": "still fine"})
        assert status == 200
    assert [m.text for m in agent.seen] == ["still fine"]


async def test_rate_limit_per_client(client: aiohttp.ClientSession) -> None:
    now = [0.0]
    http = make_http(rate_limit_per_minute=60, rate_limit_burst=2, monotonic=lambda: now[0])
    async with running([http], [http], Recorder()):
        url = f"{http.url}/v1/messages"
        assert (await post(client, url, {"text": "1"}))[0] == 200
        assert (await post(client, url, {"text": "2"}))[0] == 200
        status, body, resp = await post(client, url, {"text": "3"})
        assert status == 429
        assert body["error"]["code"] == "rate_limited"
        assert resp.headers["Retry-After"] == "1"
        now[0] += 1.0  # one token refilled
        assert (await post(client, url, {"text": "4"}))[0] == 200
        async with client.get(f"{http.url}/healthz") as health:  # probes are never limited
            assert health.status == 200
        # Without trust_forwarded, a client cannot dodge the limit with a forged header.
        forged = {"X-Forwarded-For": "10.9.9.9"}
        assert (await post(client, url, {"text": "5"}, headers=forged))[0] == 429


async def test_rate_limit_behind_a_proxy(client: aiohttp.ClientSession) -> None:
    http = make_http(rate_limit_per_minute=60, rate_limit_burst=1, trust_forwarded=True)
    async with running([http], [http], Recorder()):
        url = f"{http.url}/v1/messages"
        alice = {"X-Forwarded-For": "10.0.0.1, 10.0.0.254"}
        bob = {"X-Forwarded-For": "10.0.0.2"}
        assert (await post(client, url, {"text": "a"}, headers=alice))[0] == 200
        assert (await post(client, url, {"text": "b"}, headers=bob))[0] == 200
        assert (await post(client, url, {"text": "a2"}, headers=alice))[0] == 429


async def test_duplicate_ids_are_answered_once(
    client: aiohttp.ClientSession, tmp_path: Path
) -> None:
    agent = Recorder()
    store_path = tmp_path / "s.sqlite3"
    http = make_http()
    async with running([http], [http], agent, store=SQLiteStore(store_path)):
        url = f"{http.url}/v1/messages"
        first = await post(client, url, {"id": "req-1", "text": "once"})
        again = await post(client, url, {"id": "req-1", "text": "once"})
        assert first[0] == again[0] == 200
        assert first[1] == again[1]
    assert [m.id for m in agent.seen] == ["req-1"]
    # After a restart the answer is gone from memory; the journal still knows the id.
    http = make_http()
    async with running([http], [http], agent, store=SQLiteStore(store_path)):
        status, body, _ = await post(
            client, f"{http.url}/v1/messages", {"id": "req-1", "text": "x"}
        )
        assert status == 409 and body["error"]["code"] == "duplicate_id"
    assert len(agent.seen) == 1


async def test_concurrent_requests_in_one_conversation_stay_in_order(
    client: aiohttp.ClientSession,
) -> None:
    order: list[str] = []

    async def agent(message: Message, context: AgentContext) -> str:
        order.append(message.text)
        await asyncio.sleep(0)
        return message.text.upper()

    http = make_http()
    async with running([http], [http], agent):
        url = f"{http.url}/v1/messages"
        results = await asyncio.gather(
            *(
                post(client, url, {"text": f"m{i}", "conversation_id": f"c{i % 3}"})
                for i in range(12)
            )
        )
    assert [r[1]["replies"][0]["text"] for r in results] == [f"M{i}" for i in range(12)]
    assert sorted(order) == sorted(f"m{i}" for i in range(12))


async def test_reply_timeout_is_a_504(client: aiohttp.ClientSession) -> None:
    release = asyncio.Event()

    async def slow(message: Message, context: AgentContext) -> str:
        await release.wait()
        return "late"

    http = make_http(reply_timeout=0.2)
    async with running([http], [http], slow):
        status, body, _ = await post(client, f"{http.url}/v1/messages", {"text": "hurry"})
        assert status == 504 and body["error"]["code"] == "reply_timeout"
        release.set()


async def test_callback_gets_the_reply_signed_with_an_idempotency_key(
    client: aiohttp.ClientSession,
) -> None:
    agent = Recorder()
    local = OutboundGuard.build(["127.0.0.1"])  # the receiver is local: allow it
    http = make_http(hmac_secret="k3y", auth_token="tok", outbound=local)
    store = InMemoryStore()
    async with Receiver([503]) as receiver, running([http], [http], agent, store=store):
        http._callbacks._retry = replace(http._callbacks._retry, base=0.001)  # a fast retry
        url = f"{http.url}/v1/messages"
        body = {"id": "cb-1", "text": "call me", "callback_url": receiver.url}
        status, answer, _ = await post(client, url, body, headers={"Authorization": "Bearer tok"})
        assert status == 202
        assert answer == {"id": "cb-1", "conversation_id": "cb-1", "status": "accepted"}
        posts = await receiver.wait_accepted(1)
    assert len(posts) == 2  # a 503 first, then accepted
    assert (
        posts[0].headers["Idempotency-Key"] == posts[1].headers["Idempotency-Key"] == "http:cb-1#0"
    )
    delivered = posts[1]
    assert verify("k3y", delivered.headers, delivered.body, now=time.time()) is None
    assert delivered.json["reply"] == {"text": "echo: call me"}
    assert delivered.json["message"]["id"] == "cb-1"
    assert "http.callback_url" not in delivered.body.decode()
    assert [m.id for m in agent.seen] == ["cb-1"]
    # a callback POST can repeat, so the runner claimed it: a second claim is refused
    assert await store.reply_claim("http:cb-1#0", "http") is False


async def test_answers_on_the_live_response_skip_the_durable_claim(
    client: aiohttp.ClientSession,
) -> None:
    http = make_http()
    store = InMemoryStore()
    agent = Recorder()
    async with running([http], [http], agent, store=store):
        status, answer, _ = await post(
            client, f"{http.url}/v1/messages", {"id": "live-1", "text": "hi"}
        )
        assert status == 200 and answer["replies"] == [{"text": "echo: hi"}]
        # a retry of the same id is answered from the connector's cache, not sent twice
        status, again, _ = await post(
            client, f"{http.url}/v1/messages", {"id": "live-1", "text": "hi"}
        )
        assert status == 200 and again == answer
    assert [m.id for m in agent.seen] == ["live-1"]  # handled once, answered twice from cache
    assert await store.reply_claim("http:live-1#0", "http") is True  # never claimed


async def test_chat_completions_with_the_openai_client() -> None:
    import openai

    agent = Recorder()
    http = make_http()
    async with running([http], [http], agent):
        model = openai.AsyncOpenAI(base_url=f"{http.url}/v1", api_key="unused", max_retries=0)
        try:
            completion = await model.chat.completions.create(
                model="demo",
                messages=[
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "hello there"},
                ],
                user="alice",
            )
        finally:
            await model.close()
    assert completion.object == "chat.completion"
    assert completion.model == "demo"
    assert completion.choices[0].message.content == "echo: hello there"
    assert completion.choices[0].finish_reason == "stop"
    [seen] = agent.seen
    assert (seen.conversation_id, seen.author.id, seen.text) == ("alice", "alice", "hello there")


async def test_chat_completions_stream_with_the_openai_client() -> None:
    import openai

    async def streamer(message: Message, context: AgentContext) -> str:
        assert context.streaming
        for part in ("Hel", "lo ", "world"):
            await context.stream(part)
        return "Hello world"

    http = make_http()
    async with running([http], [http], streamer):
        model = openai.AsyncOpenAI(base_url=f"{http.url}/v1", api_key="unused", max_retries=0)
        try:
            stream = await model.chat.completions.create(
                model="demo", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            deltas: list[str] = []
            finish: list[str | None] = []
            async for chunk in stream:
                assert chunk.object == "chat.completion.chunk"
                deltas.append(chunk.choices[0].delta.content or "")
                finish.append(chunk.choices[0].finish_reason)
        finally:
            await model.close()
    assert "".join(deltas) == "Hello world"
    assert deltas[1:4] == ["Hel", "lo ", "world"]
    assert finish[-1] == "stop"


async def test_chat_stream_raw_sse_ends_with_done(client: aiohttp.ClientSession) -> None:
    http = make_http()
    async with running([http], [http], Recorder()):
        body = {"messages": [{"role": "user", "content": "sse"}], "stream": True}
        async with client.post(f"{http.url}/v1/chat/completions", json=body) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            raw = (await resp.read()).decode()
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    content = "".join(
        json.loads(e[6:])["choices"][0]["delta"].get("content", "") for e in events[:-1]
    )
    assert content == "echo: sse"


async def test_chat_completions_refusals(client: aiohttp.ClientSession) -> None:
    agent = Recorder()
    http = make_http()
    async with running([http], [http], agent):
        url = f"{http.url}/v1/chat/completions"
        bodies: list[Any] = [{"messages": []}, {"messages": [{"role": "system"}]}, [1]]
        for body in bodies:
            status, answer, _ = await post(client, url, body)
            assert status == 422 and answer["error"]["type"] == "invalid_request_error"
        long_id = {"Idempotency-Key": "k" * 300}
        status, answer, _ = await post(
            client, url, {"messages": [{"role": "user", "content": "x"}]}, headers=long_id
        )
        assert status == 422
    assert agent.seen == []


async def test_port_in_use_is_a_clear_error() -> None:
    first = make_http()
    await first.open()
    try:
        second = HTTPConnector(port=first.port)
        with pytest.raises(Exception, match="cannot listen"):
            await second.open()
    finally:
        await first.close()


async def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PORT", "9999")
    monkeypatch.setenv("HTTP_AUTH_TOKEN", "tok-secret")
    http = HTTPConnector.from_env(host="127.0.0.2")
    assert http.url == "http://127.0.0.2:9999"
    described = http.describe()
    assert "auth: bearer" in described and "rate limit: 600/min" in described
    assert "tok-secret" not in described
    monkeypatch.setenv("HTTP_PORT", "not-a-port")
    from agent_runner.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="HTTP_PORT"):
        HTTPConnector.from_env()


async def test_a_client_leaving_a_stream_does_not_hurt_the_server(
    client: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def streamer(message: Message, context: AgentContext) -> str:
        if message.text == "leave":
            await context.stream("first ")
            started.set()
            await release.wait()
            await context.stream("second")
        return f"done {message.text}"

    http = make_http()
    async with running([http], [http], streamer):
        body = {"messages": [{"role": "user", "content": "leave"}], "stream": True}
        resp = await client.post(f"{http.url}/v1/chat/completions", json=body)
        await resp.content.readline()
        await started.wait()
        resp.close()  # drop the connection mid-stream
        release.set()
        status, answer, _ = await post(client, f"{http.url}/v1/messages", {"text": "next"})
        assert status == 200 and answer["replies"] == [{"text": "done next"}]
    assert "unexpected error" not in caplog.text


async def test_every_reply_or_none_once_the_runner_signals_completion(
    client: aiohttp.ClientSession,
) -> None:
    async def agent(message: Message, context: AgentContext) -> list[str] | None:
        if message.text == "none":
            return None
        return ["one", "two", "three"]

    http = make_http(reply_timeout=3)
    async with running([http], [http], agent):
        url = f"{http.url}/v1/messages"
        status, body, _ = await post(client, url, {"text": "many"})
        assert [r["text"] for r in body["replies"]] == ["one", "two", "three"], body
        status, body, _ = await post(client, url, {"text": "none"})
        assert status == 200 and body["replies"] == []
        b = {"messages": [{"role": "user", "content": "many"}]}
        status, body, _ = await post(client, f"{http.url}/v1/chat/completions", b)
        assert body["choices"][0]["message"]["content"] == "one\n\ntwo\n\nthree"
        b["stream"] = True  # type: ignore[assignment]
        async with client.post(f"{http.url}/v1/chat/completions", json=b) as resp:
            raw = (await resp.read()).decode()
        assert "three" in raw and raw.endswith("data: [DONE]\n\n")
