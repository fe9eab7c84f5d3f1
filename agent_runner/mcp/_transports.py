"""How an MCP server is reached: a child process over stdio, or streamable HTTP.

Both are the SDK's transports (``mcp.client.stdio.stdio_client``,
``mcp.client.streamable_http.streamable_http_client``); what is added here:

* the end of the server's stream (a stdio child that exited, a connection the server
  closed) is reported to the supervisor at once, so it reconnects without waiting for a
  call to fail;
* HTTP goes through the project's one outbound guard (:mod:`agent_runner.outbound`): every
  connection's resolved address is checked, and the connection is made to the address that
  was checked (:mod:`agent_runner.mcp._http`).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

from agent_runner.outbound import OutboundGuard

Streams = tuple[Any, Any]
"""The (read, write) stream pair a transport yields to the SDK's ``Client``."""


class Transport(Protocol):
    """A way to reach a server: opens a fresh connection each time it is entered."""

    def open(self, *, on_end: Callable[[], None]) -> AbstractAsyncContextManager[Streams]:
        """A new connection; ``on_end`` is called once its read stream ends."""
        ...

    def describe(self) -> str:
        """A short label for logs, without secrets."""
        ...


@dataclass(frozen=True, slots=True)
class StdioTransport:
    """A server run as a child process, spoken to over its stdin and stdout.

    The child gets the SDK's safe environment (``PATH``, ``HOME``, ...) plus ``env``; it runs
    in its own process group, and closing kills the whole group (stdin closed, then SIGTERM,
    then SIGKILL, each wait bounded).
    """

    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] | None = field(default=None, repr=False)
    cwd: str | Path | None = None

    def open(self, *, on_end: Callable[[], None]) -> AbstractAsyncContextManager[Streams]:
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(
            command=self.command,
            args=list(self.args),
            env=dict(self.env) if self.env is not None else None,
            cwd=self.cwd,
        )
        return _watched(stdio_client(params, errlog=sys.stderr), on_end)

    def describe(self) -> str:
        return f"stdio {Path(self.command).name}"


@dataclass(frozen=True, slots=True)
class HTTPTransport:
    """A server at a streamable-HTTP endpoint, reached through the outbound guard.

    ``headers`` (an ``Authorization``, an API key) are sent with every request and never
    logged. ``guard`` None means :meth:`OutboundGuard.from_env` at each connection.
    """

    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    guard: OutboundGuard | None = None
    connect_timeout: float = 10.0
    """Seconds to connect and to write a request (reads are bounded by each call's timeout)."""

    def open(self, *, on_end: Callable[[], None]) -> AbstractAsyncContextManager[Streams]:
        return _watched(self._streams(), on_end)

    @asynccontextmanager
    async def _streams(self) -> AsyncIterator[Streams]:
        from mcp.client.streamable_http import streamable_http_client

        from agent_runner.mcp._http import guarded_client

        guard = self.guard if self.guard is not None else OutboundGuard.from_env()
        guard.check_url(self.url)
        client = guarded_client(guard, headers=self.headers, timeout=self.connect_timeout)
        async with client, streamable_http_client(self.url, http_client=client) as streams:
            yield streams

    def describe(self) -> str:
        parts = urlsplit(self.url)
        return f"http {parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}{parts.path}"


@asynccontextmanager
async def _watched(
    transport: AbstractAsyncContextManager[Streams], on_end: Callable[[], None]
) -> AsyncIterator[Streams]:
    async with transport as (read_stream, write_stream):
        yield _EndWatch(read_stream, on_end), write_stream


class _EndWatch:
    """The transport's read stream (the SDK's ``ReadStream`` protocol), calling ``on_end``
    when it ends: the server exited, closed the connection or the transport failed."""

    def __init__(self, inner: Any, on_end: Callable[[], None]) -> None:
        self._inner = inner
        self._on_end = on_end

    @property
    def last_context(self) -> Any:
        """The sender's context of the last item (HTTP's context streams carry one)."""
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        import anyio

        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _EndWatch:
        return self

    async def __anext__(self) -> Any:
        import anyio

        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _EndWatch:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


__all__ = ["HTTPTransport", "StdioTransport", "Streams", "Transport"]
