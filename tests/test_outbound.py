"""The outbound guard, against real DNS answers from a local DNS server and real sockets.

Names resolve through a DNS server on 127.0.0.1 (UDP, answering from a table) queried by
aiohttp's c-ares resolver, exactly as a public name would resolve to a private address.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Mapping

import aiohttp
import pytest
from aiohttp import web
from aiohttp.resolver import AsyncResolver
from dnslib import QTYPE, RR, A, DNSRecord  # type: ignore[import-untyped]

from agent_runner.errors import OutboundRefusedError
from agent_runner.outbound import OutboundGuard, OutboundSettings, address_refusal

ZONE = {
    "metadata.evil.test": ["169.254.169.254"],
    "redis.evil.test": ["127.0.0.1"],
    "office.evil.test": ["192.168.1.20"],
    "mixed.evil.test": ["93.184.215.14", "10.0.0.7"],
    "public.test": ["93.184.215.14"],
    "hooks.internal": ["127.0.0.1"],
}


class _DNS(asyncio.DatagramProtocol):
    def __init__(self, zone: Mapping[str, list[str]], *, ttl: int = 1) -> None:
        self.zone = zone
        self.ttl = ttl
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = DNSRecord.parse(data)
        reply = request.reply()
        name = str(request.q.qname).rstrip(".")
        if QTYPE[request.q.qtype] == "A":
            for address in self.zone.get(name, []):
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=self.ttl))
        assert self.transport is not None
        self.transport.sendto(reply.pack(), addr)


@pytest.fixture
async def resolver() -> AsyncIterator[AsyncResolver]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _DNS(ZONE), local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    dns = AsyncResolver(nameservers=[f"127.0.0.1:{port}"], timeout=2.0, tries=1)
    try:
        yield dns
    finally:
        await dns.close()
        transport.close()


class _Receiver:
    """A local HTTP server that records what reaches it (and can redirect)."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.redirect_to: str | None = None
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        if self.redirect_to is not None:
            raise web.HTTPFound(self.redirect_to)
        return web.json_response({"ok": True})

    async def __aenter__(self) -> _Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[_Receiver]:
    async with _Receiver() as running:
        yield running


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.0.1", "private"),
        ("fd00::1", "private"),
        ("100.64.0.1", "not globally routable"),  # shared address space (CGNAT)
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:a9fe:a9fe::", "link-local"),  # 6to4 wrapping 169.254.169.254
        ("240.0.0.1", "reserved"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_address_refusal(address: str, reason: str | None) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "ftp scheme"),
        ("file:///etc/passwd", "file scheme"),
        ("http:///nohost", "no host"),
        ("http://127.0.0.1:6379/", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest", "169.254.169.254 is a link-local address"),
        ("http://[::1]:8080/", "is a loopback address"),
        ("http://0.0.0.0/", "unspecified"),
    ],
)
def test_check_url_refuses_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(OutboundRefusedError, match=message.replace("[", r"\[")):
        OutboundGuard().check_url(url)


def test_allow_list_accepts_networks_and_hosts() -> None:
    guard = OutboundGuard.build(["127.0.0.1", "10.0.0.0/8", "*.corp.example"])
    assert guard.check_url("http://127.0.0.1:9000/hook").port == 9000
    assert guard.check_url("http://10.2.3.4/").host == "10.2.3.4"
    with pytest.raises(OutboundRefusedError):
        guard.check_url("http://192.168.0.1/")
    assert guard.host_trusted("api.corp.example")
    assert not guard.host_trusted("corp.example.evil.test")
    with pytest.raises(ValueError):
        OutboundGuard.build(["10.0.0.0/33"])


def test_settings_parse_the_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_RUNNER_OUTBOUND_ALLOW", "hooks.internal, 10.1.0.0/16")
    assert OutboundSettings().allow == ["hooks.internal", "10.1.0.0/16"]
    guard = OutboundGuard.from_env()
    assert guard.host_trusted("hooks.internal")
    monkeypatch.setenv("AGENT_RUNNER_OUTBOUND_ALLOW", "10.0.0.0/99")
    with pytest.raises(ValueError):
        OutboundSettings()


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("metadata.evil.test", "resolves to 169.254.169.254, a link-local address"),
        ("redis.evil.test", "resolves to 127.0.0.1, a loopback address"),
        ("office.evil.test", "resolves to 192.168.1.20, a private address"),
        ("mixed.evil.test", "resolves to 10.0.0.7, a private address"),  # rebinding-style
        ("nowhere.evil.test", "does not resolve"),
    ],
)
async def test_check_host_refuses_names_that_resolve_inward(
    resolver: AsyncResolver, host: str, message: str
) -> None:
    guard = OutboundGuard(resolver=resolver)
    with pytest.raises(OutboundRefusedError, match=message):
        await guard.check_host(host, 80)


async def test_check_host_passes_public_and_trusted_names(resolver: AsyncResolver) -> None:
    guard = OutboundGuard.build(["hooks.internal"], resolver=resolver)
    assert [r["host"] for r in await guard.check_host("public.test", 443)] == ["93.184.215.14"]
    assert [r["host"] for r in await guard.check_host("hooks.internal", 80)] == ["127.0.0.1"]


async def test_session_refuses_a_name_that_resolves_to_loopback(
    resolver: AsyncResolver, receiver: _Receiver
) -> None:
    guard = OutboundGuard(resolver=resolver)
    async with guard.session() as session:
        with pytest.raises(OutboundRefusedError, match="loopback"):
            await session.post(f"http://redis.evil.test:{receiver.port}/", data=b"x")
    assert receiver.hits == []  # nothing reached the server


async def test_session_refuses_a_literal_address(receiver: _Receiver) -> None:
    async with OutboundGuard().session() as session:
        with pytest.raises(OutboundRefusedError, match="loopback"):
            await session.post(f"http://127.0.0.1:{receiver.port}/", data=b"x")
    assert receiver.hits == []


async def test_session_reaches_an_allowed_destination(
    resolver: AsyncResolver, receiver: _Receiver
) -> None:
    guard = OutboundGuard.build(["hooks.internal"], resolver=resolver)
    async with guard.session() as session:
        async with session.post(f"http://hooks.internal:{receiver.port}/hook") as response:
            assert response.status == 200
    assert receiver.hits == ["/hook"]


async def test_redirects_to_a_refused_address_are_not_followed(
    resolver: AsyncResolver, receiver: _Receiver
) -> None:
    guard = OutboundGuard.build(["hooks.internal"], resolver=resolver)
    async with _Receiver() as inner, guard.session() as session:
        for target in (
            f"http://127.0.0.1:{inner.port}/secret",  # a literal: caught by the hop check
            f"http://redis.evil.test:{inner.port}/secret",  # a name: caught by the resolver
        ):
            receiver.redirect_to = target
            with pytest.raises(OutboundRefusedError, match="loopback"):
                await session.get(f"http://hooks.internal:{receiver.port}/start")
        assert inner.hits == []
    assert receiver.hits == ["/start", "/start"]


async def test_refusal_is_not_a_connection_error() -> None:
    """Retry loops retry aiohttp.ClientError; a refusal must not look like one."""
    assert not issubclass(OutboundRefusedError, aiohttp.ClientError | OSError)
