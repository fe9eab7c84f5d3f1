"""Optional OpenTelemetry tracing for runtimes (imported only when a provider is given)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


class RuntimeTracer:
    """Creates spans for message creation, publishing and processing.

    A runtime builds one only when it is given a ``tracer_provider``; without one it does no
    tracing work per message at all. ``opentelemetry`` is imported here, lazily.
    """

    __slots__ = ("_context", "_kinds", "_runtime_name", "_tracer")

    def __init__(self, tracer_provider: Any, runtime_name: str) -> None:
        from opentelemetry import context, trace

        self._tracer = tracer_provider.get_tracer("agent_runner.core")
        self._context = context
        self._kinds = {
            "create": trace.SpanKind.PRODUCER,
            "publish": trace.SpanKind.PRODUCER,
            "process": trace.SpanKind.CONSUMER,
            "intercept": trace.SpanKind.INTERNAL,
        }
        self._runtime_name = runtime_name

    def current_context(self) -> Any:
        """The current OpenTelemetry context, to parent spans made in another task."""
        return self._context.get_current()

    @contextmanager
    def span(
        self,
        operation: str,
        destination: object,
        *,
        parent: Any = None,
        attributes: Mapping[str, str] | None = None,
    ) -> Iterator[None]:
        """A span named ``"<operation> <destination>"`` (parented to ``parent`` if given)."""
        attrs: dict[str, str] = {
            "messaging.system": self._runtime_name,
            "messaging.operation": operation,
            "messaging.destination": str(destination),
        }
        if attributes:
            attrs.update(attributes)
        with self._tracer.start_as_current_span(
            f"{operation} {destination}",
            context=parent,
            kind=self._kinds.get(operation),
            attributes=attrs,
        ):
            yield


__all__ = ["RuntimeTracer"]
