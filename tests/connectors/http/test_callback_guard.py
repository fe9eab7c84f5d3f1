"""``callback_url`` against the outbound guard, with real DNS answers from a local resolver.

Names resolve through a DNS server on 127.0.0.1 (the one of tests/test_outbound.py), so a
public-looking name that answers with the cloud metadata or a loopback address is refused
at accept time with a 422 saying why, and a name whose answer changes after it was accepted
is refused again when the reply is POSTed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.resolver import AsyncResolver

from agent_runner import AgentContext, Message
from agent_runner.outbound import OutboundGuard
from connectors.http import HTTPConnector
from tests.connectors._web_fixtures import Receiver, Recorder, running
from tests.test_outbound import _DNS

ZONE: dict[str, list[str]] = {
    "metadata.evil.test": ["169.254.169.254"],
    "redis.evil.test": ["127.0.0.1"],
    "hooks.internal": ["127.0.0.1"],
    "rebind.evil.test": ["93.184.215.14"],
}


@pytest.fixture
async def dns() -> AsyncIterator[tuple[AsyncResolver, dict[str, list[str]]]]:
    zone = {name: list(addresses) for name, addresses in ZONE.items()}
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _DNS(zone, ttl=0),
        local_addr=("127.0.0.1", 0),  # no caching: rebinding
    )
    port = transport.get_extra_info("sockname")[1]
    resolver = AsyncResolver(nameservers=[f"127.0.0.1:{port}"], timeout=2.0, tries=1)
    try:
        yield resolver, zone
    finally:
        await resolver.close()
        transport.close()


async def post(http: HTTPConnector, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as client,
        client.post(f"{http.url}/v1/messages", json=body) as resp,
    ):
        return resp.status, json.loads(await resp.text())


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://metadata.evil.test/latest", "resolves to 169.254.169.254, a link-local address"),
        ("http://redis.evil.test:6379/", "resolves to 127.0.0.1, a loopback address"),
        ("http://127.0.0.1:6379/", "127.0.0.1 is a loopback address"),
        ("http://[::ffff:10.0.0.1]/", "is a private address"),
        ("http://0.0.0.0:8080/", "is a unspecified address"),
        ("http://224.0.0.1/", "is a multicast address"),
        ("http://nowhere.evil.test/", "nowhere.evil.test does not resolve"),
    ],
)
async def test_inward_callback_urls_are_refused_at_accept_time(
    dns: tuple[AsyncResolver, dict[str, list[str]]], url: str, reason: str
) -> None:
    agent = Recorder()
    http = HTTPConnector(port=0, outbound=OutboundGuard.build(resolver=dns[0]))
    async with running([http], [http], agent):
        status, body = await post(http, {"text": "hi", "callback_url": url})
    assert status == 422, body
    error = body["error"]
    assert isinstance(error, dict) and error["code"] == "callback_url_refused"
    assert reason in error["message"] and "AGENT_RUNNER_OUTBOUND_ALLOW" in error["message"]
    assert agent.seen == []


async def test_allow_listed_hosts_are_called_back(
    dns: tuple[AsyncResolver, dict[str, list[str]]],
) -> None:
    guard = OutboundGuard.build(["hooks.internal"], resolver=dns[0])
    http = HTTPConnector(port=0, outbound=guard)
    async with Receiver() as receiver, running([http], [http], Recorder()):
        url = receiver.url.replace("127.0.0.1", "hooks.internal")
        status, body = await post(http, {"id": "a1", "text": "hi", "callback_url": url})
        assert status == 202, body
        (delivered,) = await receiver.wait_accepted(1)
    assert delivered.json["reply"] == {"text": "echo: hi"}


async def test_a_name_rebound_inward_after_accept_is_refused_when_posting(
    dns: tuple[AsyncResolver, dict[str, list[str]]], caplog: pytest.LogCaptureFixture
) -> None:
    resolver, zone = dns
    rebound = asyncio.Event()

    async def agent(message: Message, context: AgentContext) -> str:
        await asyncio.wait_for(rebound.wait(), 20)
        return "secret"

    http = HTTPConnector(port=0, outbound=OutboundGuard.build(resolver=resolver))
    async with Receiver() as receiver, running([http], [http], agent):
        port = receiver.url.rsplit(":", 1)[1]
        url = f"http://rebind.evil.test:{port}"
        status, body = await post(http, {"id": "r1", "text": "hi", "callback_url": url})
        assert status == 202, body  # public when accepted
        zone["rebind.evil.test"] = ["127.0.0.1"]  # where the receiver listens
        rebound.set()
        for _ in range(400):  # up to 20 s: the refused delivery is logged
            if any("127.0.0.1, a loopback" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.05)
        assert receiver.received == []
    refused = [r for r in caplog.records if "127.0.0.1, a loopback" in r.getMessage()]
    assert refused and refused[0].levelno >= logging.WARNING
