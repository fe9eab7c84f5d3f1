"""Replies end to end (runner.replies): routing, never a broadcast, retries, give-ups,
duplicates, streaming."""

from __future__ import annotations

import asyncio

import pytest

from agent_runner import AgentContext, DeliveryError, Message, Reply
from agent_runner.store import Store
from connectors.inmemory import InMemoryConnector
from tests.runner.support import make, running


async def echo(message: Message, context: AgentContext) -> str:
    return message.text


async def test_routing_sends_cron_replies_to_x_only(store: Store) -> None:
    cron = InMemoryConnector("cron")
    x = InMemoryConnector("x")
    discord = InMemoryConnector("discord")
    runtime = make([cron, discord], [x, discord], echo, store=store, routes={"cron": ["x"]})
    async with running(runtime):
        await cron.push("daily post")
        await discord.push("question")
        [(request, reply)] = await x.wait_for_replies(1)
        assert (request.source, reply.text) == ("cron", "daily post")
        [(request, reply)] = await discord.wait_for_replies(1)
        assert (request.source, reply.text) == ("discord", "question")
    assert len(x.sent) == 1 and len(discord.sent) == 1 and cron.sent == []


async def test_no_output_of_the_source_name_means_no_reply_and_no_broadcast(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    cron = InMemoryConnector("cron")
    x = InMemoryConnector("x")
    handled = asyncio.Event()

    async def agent(message: Message, context: AgentContext) -> str:
        handled.set()
        return "post"

    async with running(make([cron], [x], agent, store=store)):
        await cron.push("tick", id="t1")
        await handled.wait()
    assert x.sent == [] and cron.sent == []
    assert any("no output named 'cron'" in r.getMessage() for r in caplog.records)


async def test_reply_targets_override_routing(store: Store) -> None:
    chat = InMemoryConnector()
    audit = InMemoryConnector("audit")

    async def agent(message: Message, context: AgentContext) -> list[Reply]:
        return [Reply(text="to you"), Reply(text="to both", targets=("memory", "audit"))]

    async with running(make([chat], [chat, audit], agent, store=store)):
        await chat.push("hi")
        await chat.wait_for_replies(2)
        [(_, logged)] = await audit.wait_for_replies(1)
    assert [r.text for _, r in chat.sent] == ["to you", "to both"]
    assert logged.text == "to both"


async def test_output_failing_twice_then_succeeding_is_retried(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    chat = InMemoryConnector()
    chat.fail_next_sends(2)
    async with running(make([chat], [chat], echo, store=store, output_retries=3)):
        await chat.push("hi", id="r1")
        [(_, reply)] = await chat.wait_for_replies(1)
    assert reply.text == "hi"
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2 and "memory:r1#0" in retries[0]


async def test_output_always_failing_is_recorded_failed_and_loop_goes_on(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    chat = InMemoryConnector()
    chat.fail_next_sends(3)  # output_retries=2: three attempts, all fail
    async with running(make([chat], [chat], echo, store=store, output_retries=2)) as runtime:
        await chat.push("lost", id="f1")
        await chat.push("next", id="f2")
        [(_, reply)] = await chat.wait_for_replies(1)
        assert reply.text == "next"
        assert not await runtime.store.reply_claim("memory:f1#0", "memory")  # recorded
    assert any("giving up" in r.getMessage() and "f1" in r.getMessage() for r in caplog.records)


async def test_delivery_error_gives_up_at_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    chat = InMemoryConnector()
    chat.fail_next_sends(1, DeliveryError("message too long for this platform"))
    async with running(make([chat], [chat], echo, store=store, output_retries=5)):
        await chat.push("big")
        await chat.push("small")
        [(_, reply)] = await chat.wait_for_replies(1)
    assert reply.text == "small"
    assert not any("retrying" in r.getMessage() for r in caplog.records)
    assert any("after 1 attempt(s)" in r.getMessage() for r in caplog.records)


async def test_duplicate_message_id_is_answered_once(store: Store) -> None:
    chat = InMemoryConnector()
    async with running(make([chat], [chat], echo, store=store)):
        first, second = await asyncio.gather(chat.push("hi", id="same"), chat.push("hi", id="same"))
        third = await chat.push("hi", id="same")
        await chat.push("other")
        await chat.wait_for_replies(2)
    assert sorted([first.duplicate, second.duplicate]) == [False, True] and third.duplicate
    assert [r.text for _, r in chat.sent] == ["hi", "other"]


async def test_streaming_output_gets_chunks(store: Store) -> None:
    chat = InMemoryConnector(streaming=True)
    plain = InMemoryConnector("plain")

    async def agent(message: Message, context: AgentContext) -> str:
        if context.streaming:
            for piece in ("Hel", "lo"):
                await context.stream(piece)
        return "Hello"

    async with running(make([chat, plain], [chat, plain], agent, store=store)):
        await chat.push("hi")
        await plain.push("hi")
        await chat.wait_for_replies(1)
        await plain.wait_for_replies(1)
    assert [c for _, c in chat.chunks] == ["Hel", "lo"]
    assert plain.chunks == []
