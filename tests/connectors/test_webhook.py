"""Webhook output against a local receiver: signatures, idempotency keys, retries, give-ups."""

from __future__ import annotations

import socket
import time

import pytest

from agent_runner.errors import ConfigurationError, DeliveryError
from agent_runner.message import Author, Message, Reply
from connectors.inmemory import InMemoryConnector
from connectors.webhook import WebhookOutput, verify
from tests.connectors._web_fixtures import Receiver, Recorder, running

REQUEST = Message(id="42", conversation_id="c", source="memory", author=Author(id="u"), text="hi")


def fast(url: str, **options: object) -> WebhookOutput:
    options.setdefault("backoff_base", 0.001)
    options.setdefault("backoff_cap", 0.005)
    return WebhookOutput(url, **options)  # type: ignore[arg-type]


async def test_delivery_through_the_runner_after_failures() -> None:
    chat = InMemoryConnector()
    async with Receiver([503, (429, {"Retry-After": "0"}), 500]) as receiver:
        hook = fast(receiver.url, secret="s3cret", max_retries=5)
        async with running([chat], [chat, hook], Recorder(), routes={"memory": ["webhook"]}):
            await chat.push("ping", conversation_id="c1", id="m1")
            posts = await receiver.wait_accepted(1)
    assert len(posts) == 4  # three failures, then accepted
    keys = {p.headers["Idempotency-Key"] for p in posts}
    assert keys == {"memory:m1#0"}
    for post in posts:
        assert verify("s3cret", post.headers, post.body, now=time.time()) is None
        assert post.headers["Content-Type"] == "application/json"
    body = posts[-1].json
    assert body["reply"] == {"text": "echo: ping"}
    assert body["index"] == 0 and body["idempotency_key"] == "memory:m1#0"
    assert body["message"]["id"] == "m1" and body["message"]["text"] == "ping"


async def test_several_replies_get_their_own_keys() -> None:
    async with Receiver() as receiver:
        hook = fast(receiver.url)
        await hook.open()
        try:
            await hook.send(REQUEST, Reply(text="one"))
            await hook.send(REQUEST, Reply(text="two"))
        finally:
            await hook.close()
    assert [p.headers["Idempotency-Key"] for p in receiver.received] == [
        "memory:42#0",
        "memory:42#1",
    ]
    assert "X-Signature" not in receiver.received[0].headers  # no secret: unsigned


async def test_a_4xx_gives_up_at_once() -> None:
    async with Receiver([400, 200]) as receiver:
        hook = fast(receiver.url, max_retries=5)
        await hook.open()
        try:
            with pytest.raises(DeliveryError, match="refused by the receiver: HTTP 400"):
                await hook.send(REQUEST, Reply(text="x"))
        finally:
            await hook.close()
    assert len(receiver.received) == 1


async def test_gives_up_after_capped_retries() -> None:
    async with Receiver([503, 503, 503, 503]) as receiver:
        hook = fast(receiver.url, max_retries=2)
        await hook.open()
        try:
            with pytest.raises(DeliveryError, match="after 3 attempt"):
                await hook.send(REQUEST, Reply(text="x"))
        finally:
            await hook.close()
    assert len(receiver.received) == 3


async def test_connection_refused_is_retried_then_fails() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = fast(f"http://127.0.0.1:{port}/hook", max_retries=1, timeout=2)
    await hook.open()
    try:
        with pytest.raises(DeliveryError, match="ClientConnectorError"):
            await hook.send(REQUEST, Reply(text="x"))
    finally:
        await hook.close()


def test_bad_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="absolute http"):
        WebhookOutput("not a url")
    with pytest.raises(ConfigurationError):
        WebhookOutput("https://example.com/h", timeout=0)
