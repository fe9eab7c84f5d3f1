"""The operator endpoint's HTTP app: ``/metrics``, the probes, ``/api/status``, the page.

:func:`admin_app` builds the aiohttp application over an :class:`EndpointSource` (what the
runner or worker knows about itself); :class:`AdminServer` serves it with the project's
hardened server (:func:`agent_runner.http_server.serve`: idle and body timeouts, a
connection cap).

- ``/healthz``: 200 while the process serves (liveness).
- ``/readyz``: 200 ``{"ready": true}`` or 503 ``{"ready": false, "reasons": [...]}``; each
  reason is ``{"check": ..., "detail": ...}`` (readiness: send it traffic or not).
- ``/api/status``: the status as JSON (what the status page and ``agent-runner status`` show).
- ``/metrics``: Prometheus' text format.
- ``/``: the status page (one self-contained HTML file).

With a token, every route but the two probes needs ``Authorization: Bearer <token>``, or
``?token=<token>`` in the URL (for a browser opening the status page, whose script then
sends the header); compared in constant time. Extra routes (the approvals API) sit behind
it too.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable
from importlib import resources
from typing import Any, Protocol

from aiohttp import web

from agent_runner.errors import ConfigurationError
from agent_runner.http_server import ServerLimits, error_body, serve
from agent_runner.observability.settings import AdminSettings

_log = logging.getLogger("agent_runner.admin")

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
"""Routes served without the token (probes)."""

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class EndpointSource(Protocol):
    """What the endpoint shows: a runner's or a worker's view of itself."""

    async def exposition(self) -> bytes:
        """The Prometheus exposition."""
        ...

    async def readiness(self) -> list[dict[str, Any]]:
        """Why the process is not ready (empty: ready)."""
        ...

    async def status(self) -> dict[str, Any]:
        """The status JSON."""
        ...


def admin_app(
    source: EndpointSource, settings: AdminSettings, routes: Iterable[web.RouteDef] = ()
) -> web.Application:
    """The operator endpoint's application over ``source``; ``routes`` are added behind the
    token."""
    token = settings.token.get_secret_value().encode() if settings.token else None

    @web.middleware
    async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
        if token is not None and request.path not in OPEN_PATHS:
            given = request.headers.get("Authorization", "")
            scheme, _, value = given.partition(" ")
            if not scheme and "token" in request.query:  # a browser opening the page
                scheme, value = "bearer", request.query["token"]
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token):
                return web.json_response(
                    error_body(401, "a bearer token is required"),
                    status=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        response: web.StreamResponse = await handler(request)
        return response

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(request: web.Request) -> web.Response:
        reasons = await source.readiness()
        body = {"ready": not reasons, "reasons": reasons}
        return web.json_response(body, status=503 if reasons else 200)

    async def status(request: web.Request) -> web.Response:
        return web.json_response(await source.status())

    async def metrics(request: web.Request) -> web.Response:
        body = await source.exposition()
        return web.Response(body=body, headers={"Content-Type": PROMETHEUS_CONTENT_TYPE})

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=status_page(), content_type="text/html", charset="utf-8")

    app = web.Application(middlewares=[authenticate], client_max_size=64 * 1024)
    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.get("/readyz", readyz),
            web.get("/api/status", status),
            web.get("/metrics", metrics),
            web.get("/", page),
            *routes,
        ]
    )
    return app


def status_page() -> str:
    """The status page's HTML (package data, read once)."""
    global _page
    if _page is None:
        _page = (
            resources.files("agent_runner.observability")
            .joinpath("status.html")
            .read_text(encoding="utf-8")
        )
    return _page


_page: str | None = None


class AdminServer:
    """The operator endpoint's server: :meth:`start`, :meth:`stop`, and the bound :attr:`port`.

    Raises:
        ConfigurationError: from :meth:`start`, for a public address without a token, or an
            address that cannot be bound (in use ...).
    """

    def __init__(
        self,
        source: EndpointSource,
        settings: AdminSettings,
        routes: Iterable[web.RouteDef] = (),
        *,
        limits: ServerLimits | None = None,
    ) -> None:
        self.settings = settings
        self._app = admin_app(source, settings, routes)
        self._limits = limits or ServerLimits(max_connections=64)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        """The bound port, once started."""

    async def start(self) -> None:
        problem = self.settings.problem()
        if problem is not None:
            raise ConfigurationError(problem)
        host = self.settings.host
        try:
            self._runner, self.port = await serve(
                self._app, host=host, port=self.settings.port, limits=self._limits
            )
        except OSError as exc:
            raise ConfigurationError(
                f"the operator endpoint cannot listen on {host}:{self.settings.port}: {exc} "
                "(set AGENT_RUNNER_ADMIN_PORT to another port, or 0 to turn it off)"
            ) from None
        _log.info("operator endpoint on http://%s:%s", host, self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def url(self) -> str:
        """``http://host:port`` once started."""
        return f"http://{self.settings.host}:{self.port}"


__all__ = [
    "OPEN_PATHS",
    "PROMETHEUS_CONTENT_TYPE",
    "AdminServer",
    "EndpointSource",
    "admin_app",
    "status_page",
]
