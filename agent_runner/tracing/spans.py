"""The tracer the runner's spans come from, and W3C trace context in and out of carriers.

While tracing is off (the default) ``_tracer`` is None and every helper here returns at once
with a shared do-nothing value: no span, context or attribute object is built per message, and
``opentelemetry`` is not imported. :func:`agent_runner.tracing.start_tracing` installs a tracer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

CAPTURE_CONTENT_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""``true`` records message text, prompts and completions on spans (off by default)."""
TRACEPARENT = "traceparent"
"""The W3C trace context header (``tracestate`` travels with it when there is one)."""

_tracer: Any = None
_provider: Any = None
_propagator: Any = None
_context: Any = None
_kinds: dict[str, Any] = {}
_capture = False


class _Off(AbstractContextManager[None]):
    """The context manager every span helper returns while tracing is off: yields None."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


OFF = _Off()
"""The shared do-nothing context manager (``with OFF as span``: ``span`` is None)."""


def active() -> bool:
    """Whether tracing is on in this process."""
    return _tracer is not None


def capture_content() -> bool:
    """Whether message text and prompts may be recorded (the operator opted in)."""
    return _capture


def install(provider: Any) -> None:
    """Make spans with ``provider`` (an OpenTelemetry ``TracerProvider``) from now on."""
    global _tracer, _provider, _propagator, _context, _capture
    from opentelemetry import context, trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    _kinds.update(
        internal=trace.SpanKind.INTERNAL,
        server=trace.SpanKind.SERVER,
        client=trace.SpanKind.CLIENT,
        consumer=trace.SpanKind.CONSUMER,
        producer=trace.SpanKind.PRODUCER,
    )
    _propagator = TraceContextTextMapPropagator()
    _context = context
    _capture = os.environ.get(CAPTURE_CONTENT_VARIABLE, "").strip().lower() == "true"
    _provider = provider
    _tracer = provider.get_tracer("agent_runner")


def uninstall() -> Any:
    """Stop making spans; return the provider that was installed (None if none was)."""
    global _tracer, _provider
    provider, _tracer, _provider = _provider, None, None
    return provider


def span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    kind: str = "internal",
    parent: Any = None,
) -> AbstractContextManager[Any]:
    """A span named ``name``, current inside the block (:data:`OFF` while tracing is off).

    ``parent`` is a context from :func:`current` or :func:`extract` (default: the current
    one). The block's exception, if any, is recorded on the span and sets its status.
    """
    tracer = _tracer
    if tracer is None:
        return OFF
    return tracer.start_as_current_span(  # type: ignore[no-any-return]
        name, context=parent, kind=_kinds[kind], attributes=attributes
    )


def current() -> Any:
    """The current trace context, to continue in another task (None while tracing is off)."""
    if _tracer is None:
        return None
    return _context.get_current()


def attach(trace_context: Any) -> AbstractContextManager[None]:
    """Make ``trace_context`` (from :func:`current` or :func:`extract`) current in the block."""
    if trace_context is None or _tracer is None:
        return OFF
    return _attached(trace_context)


@contextmanager
def _attached(trace_context: Any) -> Iterator[None]:
    token = _context.attach(trace_context)
    try:
        yield
    finally:
        _context.detach(token)


def inject(carrier: MutableMapping[str, str]) -> None:
    """Write the current span's ``traceparent`` (and ``tracestate``) into ``carrier``."""
    if _tracer is not None:
        _propagator.inject(carrier)


def carrier() -> dict[str, str] | None:
    """The current trace context as W3C headers (None while off or outside any span)."""
    if _tracer is None:
        return None
    headers: dict[str, str] = {}
    _propagator.inject(headers)
    return headers or None


def extract(headers: Mapping[str, object] | None) -> Any:
    """The remote trace context in ``headers`` (``traceparent``), or None when there is none."""
    if _tracer is None or not headers or headers.get(TRACEPARENT) is None:
        return None
    return _propagator.extract(headers)


def incoming(headers: Mapping[str, Any] | None) -> AbstractContextManager[None]:
    """Continue the caller's trace (its ``traceparent`` header) inside the block."""
    if _tracer is None:
        return OFF
    return attach(extract(headers))


__all__ = [
    "CAPTURE_CONTENT_VARIABLE",
    "OFF",
    "TRACEPARENT",
    "active",
    "attach",
    "capture_content",
    "carrier",
    "current",
    "extract",
    "incoming",
    "inject",
    "install",
    "span",
    "uninstall",
]
