"""``agent-runner status [URL]``: the operator endpoint's status, summarised in the terminal.

It reads ``URL/api/status`` (default: the local endpoint, ``http://127.0.0.1:8081`` or what
``AGENT_RUNNER_ADMIN_HOST``/``AGENT_RUNNER_ADMIN_PORT`` say), with
``AGENT_RUNNER_ADMIN_TOKEN`` as the bearer token when set, and prints a few lines. The exit
code says it for scripts: 0 ready, 1 not ready, 2 unreachable.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from agent_runner.observability.settings import AdminSettings

TIMEOUT = 10.0
"""Seconds the request may take."""


def default_url(settings: AdminSettings) -> str:
    """The local endpoint's URL from the settings (``0.0.0.0`` read as ``127.0.0.1``)."""
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def fetch_status(url: str, token: str | None) -> dict[str, Any]:
    """``GET url/api/status`` (blocking; the CLI runs no event loop).

    Raises:
        OSError: the endpoint cannot be reached, or answered an error (``HTTPError``).
    """
    request = urllib.request.Request(url.rstrip("/") + "/api/status")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - http(s) only
        body: dict[str, Any] = json.loads(response.read())
    return body


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def summary(status: dict[str, Any]) -> list[str]:
    """The lines ``agent-runner status`` prints."""
    m = status.get("messages", {})
    latency = status.get("latency", {})
    lines = [
        f"{status.get('role', 'runner')}: {'READY' if status.get('ready') else 'NOT READY'} "
        f"(up {status.get('uptime_seconds', 0):.0f}s)",
    ]
    lines += [f"  ! {r.get('check')}: {r.get('detail')}" for r in status.get("reasons", [])]
    lines.append(
        f"messages: {m.get('received', 0):.0f} received, {m.get('handled', 0):.0f} handled, "
        f"{m.get('failed', 0):.0f} failed, {m.get('refused', 0):.0f} refused, "
        f"{m.get('pending', 0)} in mailboxes"
    )
    lines.append(
        f"latency (5 min): p50 {_seconds(latency.get('p50'))}, p99 {_seconds(latency.get('p99'))}; "
        f"{status.get('active_conversations', 0)} active conversation(s)"
    )
    for name, c in status.get("connectors", {}).items():
        age = c.get("last_event_seconds")
        when = f", last event {age:.0f}s ago" if age is not None else ""
        lines.append(f"connector {name}: {c.get('state')}{when}")
    for scope, b in status.get("budgets", {}).items():
        lines.append(f"budget {scope}: {b.get('spent', 0):.4g} of {b.get('limit', 0):.4g} spent")
    days = status.get("days", [])
    if days:
        today = days[-1]
        lines.append(
            f"today ({today['day']}): {today['messages']} messages, {today['errors']} errors, "
            f"cost {today['cost']:.4g}"
        )
    return lines


__all__ = ["TIMEOUT", "default_url", "fetch_status", "summary"]
