"""Turning tracing on from the standard ``OTEL_*`` variables, and off again with a flush.

Tracing is on when ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
``OTEL_TRACES_EXPORTER`` (other than ``none``) is set, and ``OTEL_SDK_DISABLED`` is not
``true``. Everything else (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_BSP_*``...) is read by the
OpenTelemetry SDK itself. When tracing is off the SDK is never imported.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from agent_runner.tracing import spans

_log = logging.getLogger("agent_runner.tracing")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
"""Either one turns tracing on (OTLP over HTTP, protobuf)."""
FLUSH_TIMEOUT = 5.0
"""Seconds the spans still queued may take to export at shutdown."""


def tracing_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the ``OTEL_*`` variables in ``environ`` (default: the process's) ask for traces.

    >>> tracing_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    True
    >>> tracing_requested({"OTEL_SERVICE_NAME": "bot"})
    False
    """
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return bool(exporter) or any(env.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def _provider(service_name: str | None, environ: Mapping[str, str]) -> Any:
    """A ``TracerProvider`` exporting in batches to the exporter ``environ`` names; its
    ``service.name`` is ``OTEL_SERVICE_NAME``, else ``service_name``, else the bot's name."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    attributes = {}
    if not environ.get("OTEL_SERVICE_NAME"):
        from agent_runner.settings import bot_name, load_settings

        attributes["service.name"] = service_name or bot_name(load_settings().name)
    provider = TracerProvider(resource=Resource.create(attributes))
    exporter: Any
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def start_tracing(
    service_name: str | None = None, environ: Mapping[str, str] | None = None
) -> bool:
    """Start exporting spans when the ``OTEL_*`` variables ask for it; True if this call did.

    Does nothing (False) when tracing is already on in this process or not asked for. The
    provider is the runner's own: OpenTelemetry's global one is left to the application.
    """
    env = os.environ if environ is None else environ
    if spans.active() or not tracing_requested(env):
        return False
    provider = _provider(service_name, env)
    spans.install(provider)
    endpoint = next((env[n] for n in reversed(ENDPOINT_VARIABLES) if env.get(n)), "")
    _log.info("tracing on: exporting spans to %s", endpoint or env.get("OTEL_TRACES_EXPORTER"))
    return True


async def stop_tracing(flush_timeout: float = FLUSH_TIMEOUT) -> None:
    """Export the spans still queued (waiting at most ``flush_timeout`` s) and turn off."""
    provider = spans.uninstall()
    if provider is None:
        return

    def flush_and_shut() -> None:
        provider.force_flush(int(flush_timeout * 1000))
        provider.shutdown()

    try:
        await asyncio.wait_for(asyncio.to_thread(flush_and_shut), flush_timeout + 1.0)
    except TimeoutError:
        _log.warning("tracing: spans not exported in %ss at shutdown were dropped", flush_timeout)
    except Exception:  # an exporter fault must not fail the shutdown
        _log.exception("tracing: flushing spans at shutdown failed")


@asynccontextmanager
async def tracing_session(service_name: str | None = None) -> AsyncIterator[bool]:
    """Tracing on for the block when the ``OTEL_*`` variables ask for it (yields whether this
    block turned it on), flushed and off at its end."""
    started = start_tracing(service_name)
    try:
        yield started
    finally:
        if started:
            await stop_tracing()


__all__ = [
    "ENDPOINT_VARIABLES",
    "FLUSH_TIMEOUT",
    "start_tracing",
    "stop_tracing",
    "tracing_requested",
    "tracing_session",
]
