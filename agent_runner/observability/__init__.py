"""What operators see: metrics, health, the status page, served by the operator endpoint.

Every runner (and every ``agent-runner worker``) serves an operator endpoint, on by default
at ``http://127.0.0.1:8081`` (:class:`AdminSettings`; ``AGENT_RUNNER_ADMIN_PORT=0`` turns it
off): ``/metrics`` (Prometheus, :class:`RunnerMetrics`), ``/healthz``, ``/readyz``,
``/api/status`` and the status page at ``/``. See ``docs/how-to/operations.md``.
"""

from agent_runner.observability.activity import Activity
from agent_runner.observability.admin import AdminServer, EndpointSource, admin_app
from agent_runner.observability.endpoint import OperatorEndpoint, worker_operations
from agent_runner.observability.metrics import RunnerMetrics
from agent_runner.observability.settings import AdminSettings, is_loopback

__all__ = [
    "Activity",
    "AdminServer",
    "AdminSettings",
    "EndpointSource",
    "OperatorEndpoint",
    "RunnerMetrics",
    "admin_app",
    "is_loopback",
    "worker_operations",
]
