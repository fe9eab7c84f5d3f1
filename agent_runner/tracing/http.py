"""W3C trace context over HTTP: continued from incoming requests, sent on outgoing ones.

Every server started with :func:`agent_runner.http_server.serve` continues the trace of a
request carrying a ``traceparent`` header (the message it brings in becomes part of the
caller's trace); webhook and callback outputs send the ``traceparent`` of their ``send`` span
so the receiver can continue the message's trace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping

from aiohttp import web

from agent_runner.tracing import spans

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def continue_trace(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp middleware: the request's ``traceparent`` is the current trace context."""
    with spans.incoming(request.headers):
        return await handler(request)


def trace_requests(app: web.Application) -> None:
    """Add :func:`continue_trace` to ``app`` when tracing is on (nothing otherwise)."""
    if spans.active() and continue_trace not in app.middlewares:
        app.middlewares.append(continue_trace)


def with_traceparent(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """``headers`` with the current ``traceparent`` added (unchanged while tracing is off)."""
    spans.inject(headers)
    return headers


__all__ = ["continue_trace", "trace_requests", "with_traceparent"]
