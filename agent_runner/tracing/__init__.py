"""Tracing with OpenTelemetry: one trace per message, configured by the ``OTEL_*`` variables.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, or
``OTEL_TRACES_EXPORTER``) is set; then the runner and ``agent-runner worker`` export spans
over OTLP/HTTP in batches, flushed at shutdown. Needs the ``tracing`` extra
(``pip install 'agent-runner[tracing]'``), imported only when tracing is on. See
:mod:`agent_runner.tracing.pipeline` for the spans and ``docs/how-to/tracing.md`` for the guide.

Example:
    ::

        OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 OTEL_SERVICE_NAME=my-bot \\
            agent-runner run bot.py
"""

from agent_runner.tracing.setup import (
    start_tracing,
    stop_tracing,
    tracing_requested,
    tracing_session,
)
from agent_runner.tracing.spans import CAPTURE_CONTENT_VARIABLE, TRACEPARENT, carrier, incoming

__all__ = [
    "CAPTURE_CONTENT_VARIABLE",
    "TRACEPARENT",
    "carrier",
    "incoming",
    "start_tracing",
    "stop_tracing",
    "tracing_requested",
    "tracing_session",
]
