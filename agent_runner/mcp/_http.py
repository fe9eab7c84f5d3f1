"""The MCP SDK's HTTP client (``httpx2``) behind the project's outbound guard.

The SDK takes a ready ``httpx2.AsyncClient``; ours sends every request, redirect hops
included (the SDK follows same-origin redirects itself, request by request), through
:class:`GuardedTransport`: the URL is checked (:meth:`OutboundGuard.check_url`), the host
resolved and every address checked (:meth:`OutboundGuard.check_host`), and the request is
sent to the addresses that were checked (in the resolver's order, the next one when a
connection is refused), with the original ``Host`` header and TLS server name, so a DNS
answer that changes between the check and the connection (rebinding) cannot reach a refused
address. Allow-listed host names are sent as they are.

No proxy settings are read from the environment (``trust_env=False``): a proxy would
connect to the destination on our behalf, past the check.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

import httpx2

from agent_runner.outbound import OutboundGuard

SSE_READ_TIMEOUT = 300.0
"""Seconds a response stream may stay silent (the SDK's default; calls have their own)."""


class GuardedTransport(httpx2.AsyncBaseTransport):
    """An ``httpx2`` transport that checks each request's destination with ``guard``.

    Raises:
        OutboundRefusedError: from ``handle_async_request``, for a refused destination.
    """

    def __init__(self, guard: OutboundGuard, inner: httpx2.AsyncBaseTransport) -> None:
        self._guard = guard
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        self._guard.check_url(str(url))
        host = url.raw_host.decode("ascii")
        if _is_literal(host) or self._guard.host_trusted(host):
            return await self._inner.handle_async_request(request)
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = [result["host"] for result in await self._guard.check_host(host, port)]
        if not addresses:
            raise httpx2.ConnectError(f"{host} has no address", request=request)
        if url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        for address in addresses[:-1]:  # each checked address in turn, as a browser would
            request.url = url.copy_with(host=address)
            try:
                return await self._inner.handle_async_request(request)
            except httpx2.ConnectError:  # nothing was sent: the next address may answer
                continue
        request.url = url.copy_with(host=addresses[-1])
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def guarded_client(
    guard: OutboundGuard, *, headers: Mapping[str, str], timeout: float
) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` for the SDK: guarded, no redirects of its own, no proxy
    from the environment, ``timeout`` to connect and write, long reads for event streams."""
    inner = httpx2.AsyncHTTPTransport(trust_env=False)
    return httpx2.AsyncClient(
        headers=dict(headers),
        timeout=httpx2.Timeout(timeout, read=SSE_READ_TIMEOUT),
        transport=GuardedTransport(guard, inner),
        follow_redirects=False,
        trust_env=False,
    )


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


__all__ = ["SSE_READ_TIMEOUT", "GuardedTransport", "guarded_client"]
