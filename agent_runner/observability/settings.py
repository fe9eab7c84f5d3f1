"""The operator endpoint's settings: :class:`AdminSettings` (``AGENT_RUNNER_ADMIN_*``).

==================================  ===========================================================
``AGENT_RUNNER_ADMIN_HOST``         interface (``127.0.0.1``); anything but loopback needs a token
``AGENT_RUNNER_ADMIN_PORT``         port (``8081``); ``0`` turns the endpoint off
``AGENT_RUNNER_ADMIN_TOKEN``        bearer token for every route but ``/healthz`` and ``/readyz``
``AGENT_RUNNER_ADMIN_SHOW_TEXT``    show message text on the status page (``false``: redacted)
==================================  ===========================================================
"""

from __future__ import annotations

import ipaddress

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ADMIN_PORT = 8081


class AdminSettings(BaseSettings):
    """Where the operator endpoint listens and who may read it.

    Attributes:
        host: the interface; a non-loopback one requires :attr:`token`.
        port: the port; 0 turns the endpoint off (no server, no metrics hooks).
        token: the bearer token (``Authorization: Bearer <token>``), compared in constant
            time; ``/healthz`` and ``/readyz`` stay open to probes.
        show_text: the status page shows recent messages' text (default: redacted).

    Example:
        >>> AdminSettings(port=0).enabled
        False
    """

    model_config = SettingsConfigDict(
        env_prefix="AGENT_RUNNER_ADMIN_", extra="ignore", populate_by_name=True,
        env_ignore_empty=True,
    )  # fmt: skip

    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_ADMIN_PORT, ge=0, le=65535)
    token: SecretStr | None = None
    show_text: bool = False

    @property
    def enabled(self) -> bool:
        """False when the port is 0."""
        return self.port != 0

    @property
    def loopback(self) -> bool:
        """True when :attr:`host` is a loopback address (or ``localhost``)."""
        return is_loopback(self.host)

    def problem(self) -> str | None:
        """Why this configuration must not start (a public address without a token)."""
        if self.enabled and not self.loopback and self.token is None:
            return (
                f"AGENT_RUNNER_ADMIN_HOST={self.host} is not loopback: set "
                "AGENT_RUNNER_ADMIN_TOKEN (or AGENT_RUNNER_ADMIN_PORT=0 to turn it off)"
            )
        return None

    def describe(self) -> str:
        """``http://127.0.0.1:8081 (loopback, no token)`` for ``agent-runner check``."""
        if not self.enabled:
            return "off (AGENT_RUNNER_ADMIN_PORT=0)"
        where = "loopback" if self.loopback else "public"
        return f"http://{self.host}:{self.port} ({where}, token {'set' if self.token else 'unset'})"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


__all__ = ["DEFAULT_ADMIN_PORT", "AdminSettings", "is_loopback"]
