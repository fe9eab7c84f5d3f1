"""Runner-wide settings, read from the environment (``.env`` is loaded by the CLI).

Connector settings live with their connector (``connectors.http.HTTPSettings`` reads
``HTTP_*``, ``connectors.discord`` reads ``DISCORD_*``), because connectors are optional and
``agent_runner`` imports none of them. This module holds what every bot shares:

====================================  =====================================================
``AGENT_RUNNER_DATA_DIR``             folder for the SQLite store and other local state
                                      (``./data``)
``AGENT_RUNNER_NAME``                 the bot's name, naming its store (default: its
                                      file's name)
``AGENT_RUNNER_LOG_LEVEL``            ``DEBUG``, ``INFO`` (default), ``WARNING``, ``ERROR``
``REDIS_URL``                         Redis for the distributed runtime and ``RedisStore``
``AGENT_RUNNER_HOST_CONVERSATIONS``   ``false``: this replica takes input and sends replies
                                      but runs no conversation turns (``true``)
====================================  =====================================================

The ``LLM_*`` variables belong to :class:`agent_runner.llm.LLMSettings`, the one place that
reads them; :meth:`RunnerSettings.describe` shows them from there.

Example:
    >>> from agent_runner.settings import RunnerSettings
    >>> settings = RunnerSettings()
    >>> settings.store_path.suffix
    '.sqlite3'
"""

from __future__ import annotations

import difflib
import logging
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent_runner.errors import ConfigurationError

_S = TypeVar("_S", bound=BaseSettings)

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

DEFAULT_NAME = "agent-runner"
"""The bot's name when nothing names it (an interactive session)."""
STORE_FILENAME = f"{DEFAULT_NAME}.sqlite3"
"""The SQLite store's file name of a bot named :data:`DEFAULT_NAME` (every bot's before
stores were per bot)."""
BOT_MODULE = "agent_runner_app"
"""The module name ``agent-runner run`` imports the bot file as."""


class RunnerSettings(BaseSettings):
    """Settings every bot shares. Values come from the environment; unset ones default.

    Attributes:
        data_dir: where the SQLite store (and other local state) lives.
        log_level: the root log level the CLI configures.
        redis_url: Redis, for the distributed runtime; ``None`` runs in one process.
        host_conversations: whether this process runs conversation turns (on the
            distributed runtime, false makes an ingest-only replica).
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
    name: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AGENT_RUNNER_NAME", "name"),
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
    )
    host_conversations: bool = Field(
        default=True,
        validation_alias=AliasChoices("AGENT_RUNNER_HOST_CONVERSATIONS", "host_conversations"),
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
        """The SQLite store's path: ``{data_dir}/{bot name}.sqlite3`` (one store per bot).

        The bot's name is :attr:`name` (``AGENT_RUNNER_NAME``) when set, else the name of
        the bot's file (``agent-runner run bots/support.py`` and ``python support.py`` both
        give ``support``), else ``agent-runner``. Two bots in one folder thus keep apart;
        two processes of one bot share the file.
        """
        return store_path(self.data_dir, self.name)

    def describe(self) -> dict[str, str]:
        """The settings as printable strings, secrets masked (for ``agent-runner check``).

        The ``LLM_*`` lines come from :class:`agent_runner.llm.LLMSettings`, which owns them,
        ``MCP_SERVERS`` from :class:`agent_runner.mcp.MCPSettings`.
        """
        from agent_runner.llm._settings import LLMSettings
        from agent_runner.mcp._settings import describe_servers
        from agent_runner.observability.settings import AdminSettings

        llm = read_settings(LLMSettings)
        return {
            "AGENT_RUNNER_DATA_DIR": str(self.data_dir),
            "AGENT_RUNNER_LOG_LEVEL": self.log_level,
            "AGENT_RUNNER_ADMIN_*": read_settings(AdminSettings).describe(),
            "REDIS_URL": mask_url(self.redis_url) if self.redis_url else "(unset)",
            "AGENT_RUNNER_HOST_CONVERSATIONS": str(self.host_conversations).lower(),
            "LLM_BASE_URL": llm.base_url or "(unset)",
            "LLM_MODEL": llm.model or "(unset)",
            "LLM_API_KEY": "(set)" if llm.api_key else "(unset)",
            "MCP_SERVERS": describe_servers(),
        }


def bot_name(explicit: str | None = None) -> str:
    """The bot's name: ``explicit``, else its file's stem (the file ``agent-runner run``
    loaded, or the script Python runs), else ``agent-runner``."""
    if explicit:
        return explicit
    for module_name in (BOT_MODULE, "__main__"):
        file = getattr(sys.modules.get(module_name), "__file__", None)
        if not file:
            continue
        path = Path(file).resolve()
        inside_python = path.is_relative_to(Path(sys.prefix).resolve())
        if path.name != "__main__.py" and not inside_python:  # not `-m tool`, not a venv script
            stem = re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).strip(".-")
            if stem:
                return stem
    return DEFAULT_NAME


def store_path(data_dir: Path, name: str | None = None) -> Path:
    """``{data_dir}/{bot_name(name)}.sqlite3``; warns once when an older, shared
    ``agent-runner.sqlite3`` sits beside it (it is no longer this bot's by default)."""
    path = data_dir / f"{bot_name(name)}.sqlite3"
    legacy = data_dir / STORE_FILENAME
    if path != legacy and legacy.exists() and not path.exists() and legacy not in _warned:
        _warned.add(legacy)
        logging.getLogger("agent_runner").warning(
            "%s (the store every bot shared before) is not this bot's store any more; this "
            "bot uses %s. Set AGENT_RUNNER_NAME=%s to keep using the old file.",
            legacy,
            path,
            DEFAULT_NAME,
        )
    return path


_warned: set[Path] = set()


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

    ``prefix`` is the settings class's environment prefix (``"HTTP_"``), to name variables:
    ``invalid settings: LLM_TIMEOUT: Input should be a valid number ...``.
    """
    return "invalid settings: " + "; ".join(settings_problems(exc, prefix=prefix))


def settings_problems(exc: ValidationError, *, prefix: str = "") -> list[str]:
    """One ``VARIABLE: problem`` line per error of a settings ValidationError (no values)."""
    lines = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = [str(p) for p in err.get("loc", ())] or ["settings"]
        name = loc[0] if loc[0].isupper() else f"{prefix}{loc[0]}".upper()
        where = f"{name}[{'.'.join(loc[1:])}]" if loc[1:] else name
        lines.append(f"{where}: {' '.join(str(err.get('msg', 'invalid')).split())}")
    return lines


SETTINGS_ENTRY_POINTS = "agent_runner.settings"
"""The entry-point group of settings classes (``pydantic_settings.BaseSettings``) that
``agent-runner run`` and ``check`` validate whether or not the bot uses them, so a bad value
is one clear line at start (``connectors`` registers ``HTTP_*``, ``DISCORD_*`` ...)."""

KNOWN_PREFIXES = ("AGENT_RUNNER_", "REDIS_", "LLM_")
"""Prefixes whose unknown variables get a "did you mean" warning (with each settings class's
own ``env_prefix``)."""

_NOT_OURS = frozenset({"HTTP_PROXY", "REDIS_PASSWORD", "REDIS_HOST", "REDIS_PORT"})
"""Variables other tools read that carry one of our prefixes."""


def settings_classes() -> list[type[BaseSettings]]:
    """Every settings class: the runner's own and those registered by connectors."""
    from importlib.metadata import entry_points

    from agent_runner.llm._settings import LLMSettings
    from agent_runner.mcp._settings import MCPSettings
    from agent_runner.media.limits import MediaSettings
    from agent_runner.observability.settings import AdminSettings
    from agent_runner.outbound import OutboundSettings

    classes: list[type[BaseSettings]] = [
        RunnerSettings,
        AdminSettings,
        LLMSettings,
        OutboundSettings,
        MediaSettings,
        MCPSettings,
    ]
    for entry in sorted(entry_points(group=SETTINGS_ENTRY_POINTS), key=lambda e: e.name):
        try:
            loaded = entry.load()
        except ImportError:  # a connector whose optional dependencies are missing
            continue
        if isinstance(loaded, type) and issubclass(loaded, BaseSettings):
            classes.append(loaded)
    return classes


def read_settings(cls: type[_S]) -> _S:
    """``cls()`` from the environment; an invalid value is a one-line ConfigurationError
    naming the variable."""
    try:
        return cls()
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix") or "")
        raise ConfigurationError(settings_error(exc, prefix=prefix)) from None


def env_names(cls: type[BaseSettings]) -> set[str]:
    """The environment variables ``cls`` reads (upper case)."""
    prefix = str(cls.model_config.get("env_prefix") or "")
    names = set()
    for field_name, info in cls.model_fields.items():
        alias = info.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        named = [c.upper() for c in choices if isinstance(c, str) and c.isupper()]
        names.update(named or [f"{prefix}{field_name}".upper()])
    return names


def check_environment(environ: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Validate every settings class against ``environ``: (errors, warnings), one line each.

    Errors name the variable and the problem; warnings name variables with a known prefix
    that no settings class reads (``HTTP_PORTT: not a setting; did you mean HTTP_PORT?``).
    """
    errors: list[str] = []
    known: set[str] = set()
    prefixes = set(KNOWN_PREFIXES)
    validated = settings_classes()
    for cls in _with_subclasses(validated):
        known |= env_names(cls)
        prefix = str(cls.model_config.get("env_prefix") or "")
        if prefix:
            prefixes.add(prefix.upper())
        if cls not in validated:
            continue  # another settings class imported so far: its names only
        try:
            cls()
        except ValidationError as exc:
            errors += settings_problems(exc, prefix=prefix)
    warnings = []
    for name in sorted({n.upper() for n in environ}):
        if name in known or name in _NOT_OURS or not name.startswith(tuple(prefixes)):
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else ""
        warnings.append(f"{name} is not a setting agent-runner reads{hint}")
    return errors, warnings


def _with_subclasses(classes: list[type[BaseSettings]]) -> list[type[BaseSettings]]:
    """``classes`` and every other settings class imported so far (for known names)."""
    seen = dict.fromkeys(classes)
    stack = list(BaseSettings.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls.__module__.split(".")[0] in ("agent_runner", "connectors") and cls not in seen:
            seen[cls] = None
        stack.extend(cls.__subclasses__())
    return list(seen)


def configure_logging(level: str | int = "INFO") -> None:
    """Configure the root logger once: one line per record, to stderr."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger().setLevel(level)
    # APScheduler logs every job added and every run at INFO; httpx (python-telegram-bot's
    # HTTP client) and httpx2 (the MCP SDK's) every request: a Telegram poller's log would
    # be one identical "HTTP Request: POST .../getUpdates" line per poll, and one per reply
    # sent. Ours logs what matters; DEBUG shows them all again.
    quiet = logging.DEBUG if logging.getLogger().level <= logging.DEBUG else logging.WARNING
    for name in ("apscheduler", "httpx", "httpx2"):
        logging.getLogger(name).setLevel(quiet)


__all__ = [
    "BOT_MODULE",
    "DEFAULT_NAME",
    "KNOWN_PREFIXES",
    "SETTINGS_ENTRY_POINTS",
    "STORE_FILENAME",
    "LogLevel",
    "RunnerSettings",
    "bot_name",
    "check_environment",
    "configure_logging",
    "env_names",
    "load_settings",
    "mask_url",
    "read_settings",
    "settings_classes",
    "settings_error",
    "settings_problems",
    "store_path",
]
