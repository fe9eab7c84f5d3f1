"""OTLPReceiver: a local OpenTelemetry collector (OTLP over HTTP) to test traces against.

It accepts ``POST /v1/traces`` with a protobuf ``ExportTraceServiceRequest`` (gzip or not),
as any OTLP/HTTP exporter sends it, decodes it with ``opentelemetry-proto`` and keeps every
span. Point an exporter at it with ``OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url``::

    async with OTLPReceiver() as receiver:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.url
        ...  # run the bot, send a message, stop it (spans are flushed at shutdown)
        spans = await receiver.wait_for(lambda s: any(x.name == "send http" for x in s))
        assert len({s.trace_id for s in spans}) == 1

Needs ``opentelemetry-proto`` (installed with the ``tracing`` extra).
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from agent_runner.http_server import serve

TRACES_PATH = "/v1/traces"


@dataclass(frozen=True, slots=True)
class ReceivedSpan:
    """One span as the collector received it (ids in lowercase hex)."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    """Empty for a root span."""
    kind: int
    """The OTLP ``SpanKind`` number (1 internal, 2 server, 3 client, 4 producer, 5 consumer)."""
    service_name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    status_code: int = 0
    """0 unset, 1 ok, 2 error."""
    resource: dict[str, Any] = field(default_factory=dict)
    """The attributes of the process that sent it (``service.name``, ``process.pid``...)."""


def _value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a Python value."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which)


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


def decode_traces(body: bytes) -> list[ReceivedSpan]:
    """The spans of a protobuf ``ExportTraceServiceRequest``."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    out: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                out.append(
                    ReceivedSpan(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        kind=int(span.kind),
                        service_name=service,
                        attributes=_attributes(span.attributes),
                        status_code=int(span.status.code),
                        resource=resource,
                    )
                )
    return out


class OTLPReceiver:
    """Keeps every span POSTed to ``{url}/v1/traces`` (OTLP/HTTP, protobuf).

    Args:
        host: the interface to listen on.
        port: 0 picks a free port.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self.spans: list[ReceivedSpan] = []
        """Every span received, in arrival order."""
        self.requests = 0
        """How many export requests arrived."""
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""
        """The endpoint to give ``OTEL_EXPORTER_OTLP_ENDPOINT`` (no path)."""

    async def __aenter__(self) -> OTLPReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen (on a free port unless one was given)."""
        app = web.Application()
        app.router.add_post(TRACES_PATH, self._post)
        self._runner, self._port = await serve(app, host=self._host, port=self._port)
        self.url = f"http://{self._host}:{self._port}"

    async def stop(self) -> None:
        """Stop listening."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def traces(self) -> dict[str, list[ReceivedSpan]]:
        """The spans received so far, by trace id."""
        out: dict[str, list[ReceivedSpan]] = {}
        for span in self.spans:
            out.setdefault(span.trace_id, []).append(span)
        return out

    async def wait_for(
        self, ready: Callable[[Sequence[ReceivedSpan]], bool], *, within: float = 10.0
    ) -> list[ReceivedSpan]:
        """Wait until ``ready(spans)`` holds for the spans received; return them.

        Raises:
            TimeoutError: it did not hold within ``within`` seconds.
        """
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: ready(self.spans))
        return list(self.spans)

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        try:
            received = decode_traces(body)
        except Exception as exc:  # a malformed request is the sender's bug: say so
            return web.Response(status=400, text=f"not an ExportTraceServiceRequest: {exc}")
        async with self._changed:
            self.requests += 1
            self.spans.extend(received)
            self._changed.notify_all()
        # An empty ExportTraceServiceResponse: full success.
        return web.Response(body=b"", content_type="application/x-protobuf")


__all__ = ["TRACES_PATH", "OTLPReceiver", "ReceivedSpan", "decode_traces"]
