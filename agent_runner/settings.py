"""Runner-wide settings, read from the environment (``.env`` is loaded by the CLI).

Connector settings live with their connector (``connectors.http.HTTPSettings`` reads
``HTTP_*``, ``connectors.discord`` reads ``DISCORD_*``), because connectors are optional and
``agent_runner`` imports none of them. This module holds what every bot shares:

==========================  ===============================================================
``AGENT_RUNNER_DATA_DIR``   folder for the SQLite store and other local state (``./data``)
``AGENT_RUNNER_LOG_LEVEL``  ``DEBUG``, ``INFO`` (default), ``WARNING``, ``ERROR``
``REDIS_URL``               Redis for the distributed runtime and ``RedisStore``
==========================  ===============================================================

The ``LLM_*`` variables belong to :class:`agent_runner.llm.LLMSettings`, the one place that
reads them; :meth:`RunnerSettings.describe` shows them from there.

Example:
    >>> from agent_runner.settings import RunnerSettings
    >>> settings = RunnerSettings()
    >>> settings.store_path.name
    'agent-runner.sqlite3'
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent_runner.errors import ConfigurationError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

STORE_FILENAME = "agent-runner.sqlite3"
"""The SQLite store's file name inside the data folder."""


class RunnerSettings(BaseSettings):
    """Settings every bot shares. Values come from the environment; unset ones default.

    Attributes:
        data_dir: where the SQLite store (and other local state) lives.
        log_level: the root log level the CLI configures.
        redis_url: Redis, for the distributed runtime; ``None`` runs in one process.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, env_ignore_empty=True)

    data_dir: Path = Field(
        default=Path("./data"), validation_alias=AliasChoices("AGENT_RUNNER_DATA_DIR", "data_dir")
    )
    log_level: LogLevel = Field(
        default="INFO", validation_alias=AliasChoices("AGENT_RUNNER_LOG_LEVEL", "log_level")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "redis_url")
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("redis_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def store_path(self) -> Path:
        """The SQLite store's path: ``{data_dir}/agent-runner.sqlite3``."""
        return self.data_dir / STORE_FILENAME

    def describe(self) -> dict[str, str]:
        """The settings as printable strings, secrets masked (for ``agent-runner check``).

        The ``LLM_*`` lines come from :class:`agent_runner.llm.LLMSettings`, which owns them,
        ``MCP_SERVERS`` from :class:`agent_runner.mcp.MCPSettings`.
        """
        from agent_runner.llm._settings import LLMSettings
        from agent_runner.mcp._settings import describe_servers

        llm = LLMSettings()
        return {
            "AGENT_RUNNER_DATA_DIR": str(self.data_dir),
            "AGENT_RUNNER_LOG_LEVEL": self.log_level,
            "REDIS_URL": mask_url(self.redis_url) if self.redis_url else "(unset)",
            "LLM_BASE_URL": llm.base_url or "(unset)",
            "LLM_MODEL": llm.model or "(unset)",
            "LLM_API_KEY": "(set)" if llm.api_key else "(unset)",
            "MCP_SERVERS": describe_servers(),
        }


def mask_url(url: str) -> str:
    """Hide the password of a URL like ``redis://user:secret@host`` (for printing)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user + ':' if user else ''}***@{host}"


def load_settings() -> RunnerSettings:
    """Read :class:`RunnerSettings` from the environment.

    Raises:
        ConfigurationError: a variable has an invalid value (the message names it).
    """
    try:
        return RunnerSettings()
    except ValidationError as exc:
        raise ConfigurationError(settings_error(exc)) from None


def settings_error(exc: ValidationError, *, prefix: str = "") -> str:
    """A one-line description of a settings ValidationError (without the values).

    ``prefix`` is the settings class's environment prefix (``"HTTP_"``), to name variables.
    """
    parts = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = ".".join(str(p) for p in err.get("loc", ())) or "settings"
        parts.append(f"{prefix}{loc.upper()}: {err.get('msg', 'invalid')}")
    return "invalid settings: " + "; ".join(parts)


def configure_logging(level: str | int = "INFO") -> None:
    """Configure the root logger once: one line per record, to stderr."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger().setLevel(level)
    # APScheduler logs every job added and every run at INFO, httpx2 (the MCP SDK's HTTP
    # client) every request, MCP health listings included; ours logs what matters.
    quiet = logging.DEBUG if logging.getLogger().level <= logging.DEBUG else logging.WARNING
    for name in ("apscheduler", "httpx2"):
        logging.getLogger(name).setLevel(quiet)


__all__ = [
    "STORE_FILENAME",
    "LogLevel",
    "RunnerSettings",
    "configure_logging",
    "load_settings",
    "mask_url",
    "settings_error",
]
