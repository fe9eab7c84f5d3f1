"""The one outbound guard: every request to a URL a user gave us goes through it.

A message may carry a ``callback_url``, a setting may name an MCP server, an attachment may
point anywhere: a bot that POSTs or fetches wherever it is told is a server-side request
forgery hole (the cloud metadata service at ``169.254.169.254``, Redis on ``127.0.0.1``, the
office network). :class:`OutboundGuard` refuses, by default, every address that is not
globally routable: loopback, link-local, private, shared (CGNAT), multicast, unspecified and
reserved ranges, IPv4-mapped IPv6 forms of them included.

It checks the *resolved* addresses, on every connection (so a redirect, a retry or a DNS
answer that changed since the last attempt is checked again), and refuses a name when any
of its addresses is refused (a name that answers with one public and one private address is
a rebinding attempt). An operator allows exceptions with ``AGENT_RUNNER_OUTBOUND_ALLOW``:
hosts (``hooks.internal``, ``*.corp.example``) whose addresses are then not checked, and
networks (``10.1.0.0/16``, ``127.0.0.1``) whose addresses are accepted.

Use it through an aiohttp session it builds (its resolver checks names, a client middleware
checks literal addresses on every redirect hop)::

    guard = OutboundGuard.from_env()
    guard.check_url(url)                  # at accept time: a clear reason, before any I/O
    async with guard.session() as session:
        await session.post(url, ...)      # raises OutboundRefusedError for a refused address

or, for other clients, with :meth:`OutboundGuard.check_host` before connecting to the
addresses it returns.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from yarl import URL

from agent_runner.errors import OutboundRefusedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})


def address_refusal(address: IPAddress) -> str | None:
    """Why ``address`` is refused by default, or None when it is globally routable.

    >>> address_refusal(ipaddress.ip_address("169.254.169.254"))
    'link-local'
    >>> address_refusal(ipaddress.ip_address("::ffff:127.0.0.1"))
    'loopback'
    >>> address_refusal(ipaddress.ip_address("93.184.215.14")) is None
    True
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            return address_refusal(embedded)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "not globally routable"
    return None


def _host_matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class OutboundGuard:
    """Which destinations outbound requests may reach.

    Args:
        allow_hosts: host names (exact, or ``*.suffix``) trusted as they are: their
            addresses are not checked.
        allow_networks: networks whose addresses are accepted even if not global.
        resolver: the DNS resolver behind the checks (default: aiohttp's default one, the
            system's ``getaddrinfo`` in a thread).
    """

    allow_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[IPNetwork, ...] = ()
    resolver: AbstractResolver | None = field(default=None, compare=False)

    @classmethod
    def build(
        cls, allow: Iterable[str] = (), *, resolver: AbstractResolver | None = None
    ) -> OutboundGuard:
        """A guard from allow-list entries: host names, ``*.suffix`` or CIDRs/addresses.

        Raises:
            ValueError: for an empty entry or a malformed network.
        """
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in allow:
            entry = raw.strip().lower()
            if not entry:
                raise ValueError("an empty allow-list entry")
            if _literal(entry) is not None or "/" in entry:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            else:
                hosts.add(entry.rstrip("."))
        return cls(frozenset(hosts), tuple(networks), resolver)

    @classmethod
    def from_env(cls) -> OutboundGuard:
        """The guard configured by ``AGENT_RUNNER_OUTBOUND_ALLOW`` (comma-separated)."""
        from agent_runner.settings import read_settings

        return cls.build(read_settings(OutboundSettings).allow)

    def allowing(self, *entries: str) -> OutboundGuard:
        """This guard with more allow-list entries (e.g. the host of an operator's URL)."""
        extra = OutboundGuard.build(entries)
        return replace(
            self,
            allow_hosts=self.allow_hosts | extra.allow_hosts,
            allow_networks=self.allow_networks + extra.allow_networks,
        )

    # -- checks -------------------------------------------------------------------------
    def host_trusted(self, host: str) -> bool:
        """True when ``host`` is allow-listed by name."""
        name = host.lower().rstrip(".")
        return any(_host_matches(name, pattern) for pattern in self.allow_hosts)

    def refusal(self, address: IPAddress) -> str | None:
        """Why this guard refuses ``address`` (None: allowed)."""
        if any(address in network for network in self.allow_networks):
            return None
        return address_refusal(address)

    def check_url(self, url: str | URL) -> URL:
        """Check a URL before any I/O: scheme, host, and a literal address if it is one.

        Names are checked when they are resolved (:meth:`check_host`, the session).

        Raises:
            OutboundRefusedError: with a one-line reason.
        """
        parsed = url if isinstance(url, URL) else URL(url)
        if parsed.scheme not in ALLOWED_SCHEMES:
            raise OutboundRefusedError(f"{parsed.scheme or 'no'} scheme: only http and https")
        host = parsed.raw_host
        if not host:
            raise OutboundRefusedError("the URL has no host")
        self._check_literal(host)
        return parsed

    async def check_host(self, host: str, port: int = 0) -> list[ResolveResult]:
        """Resolve ``host`` and check every address; the addresses to connect to.

        Raises:
            OutboundRefusedError: any address is refused, or the name does not resolve.
        """
        if self._check_literal(host) is not None:
            return [_result(host, host, port, socket.AF_UNSPEC)]
        resolver = self.resolver or _default_resolver()
        try:
            results = await resolver.resolve(host, port, socket.AF_UNSPEC)
        except OSError as exc:
            raise OutboundRefusedError(f"{host} does not resolve: {exc}") from None
        finally:
            if self.resolver is None:
                await resolver.close()
        return self._check_results(host, results)

    def _check_literal(self, host: str) -> IPAddress | None:
        address = _literal(host)
        if address is not None and not self.host_trusted(host):
            reason = self.refusal(address)
            if reason is not None:
                raise OutboundRefusedError(f"{host} is a {reason} address", address=str(address))
        return address

    def _check_results(self, host: str, results: list[ResolveResult]) -> list[ResolveResult]:
        if self.host_trusted(host):
            return results
        for result in results:
            address = ipaddress.ip_address(result["host"].split("%", 1)[0])
            reason = self.refusal(address)
            if reason is not None:
                raise OutboundRefusedError(
                    f"{host} resolves to {address}, a {reason} address", address=str(address)
                )
        return results

    # -- aiohttp ------------------------------------------------------------------------
    def session(self, **kwargs: Any) -> aiohttp.ClientSession:
        """An aiohttp session whose every connection and redirect hop is checked.

        Keyword arguments go to :class:`aiohttp.ClientSession` (not ``connector``).
        """
        connector = aiohttp.TCPConnector(resolver=_GuardedResolver(self))
        middlewares = (*kwargs.pop("middlewares", ()), self._check_hop)
        return aiohttp.ClientSession(connector=connector, middlewares=middlewares, **kwargs)

    async def _check_hop(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        """Client middleware: runs for every hop, redirects included (literal addresses
        never reach the resolver)."""
        self.check_url(request.url)
        return await handler(request)


class _GuardedResolver(AbstractResolver):
    """aiohttp's resolver with the guard's check on every answer."""

    def __init__(self, guard: OutboundGuard) -> None:
        self._guard = guard
        self._inner = guard.resolver or _default_resolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        return self._guard._check_results(host, results)

    async def close(self) -> None:
        if self._guard.resolver is None:
            await self._inner.close()


def _default_resolver() -> AbstractResolver:
    return DefaultResolver(loop=asyncio.get_running_loop())


def _result(hostname: str, host: str, port: int, family: int) -> ResolveResult:
    return {
        "hostname": hostname,
        "host": host.strip("[]"),
        "port": port,
        "family": family,
        "proto": 0,
        "flags": socket.AI_NUMERICHOST,
    }


class OutboundSettings(BaseSettings):
    """``AGENT_RUNNER_OUTBOUND_*``: exceptions to the outbound guard."""

    model_config = SettingsConfigDict(
        env_prefix="AGENT_RUNNER_OUTBOUND_", extra="ignore", env_ignore_empty=True
    )

    allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Comma-separated hosts (``hooks.internal``, ``*.corp.example``) and networks
    (``10.1.0.0/16``, ``127.0.0.1``) that outbound requests may reach although they are not
    public. Empty: only public addresses."""

    @field_validator("allow", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            entries = [part.strip() for part in value.split(",") if part.strip()]
            OutboundGuard.build(entries)  # malformed networks fail here, with the setting
            return entries
        return value


__all__ = [
    "ALLOWED_SCHEMES",
    "OutboundGuard",
    "OutboundRefusedError",
    "OutboundSettings",
    "address_refusal",
]
