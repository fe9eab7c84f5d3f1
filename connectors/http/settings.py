"""``HTTP_*`` settings of the HTTP connector, read from the environment."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent_runner.errors import ConfigurationError
from agent_runner.http_server import ServerLimits
from agent_runner.settings import settings_error


class HTTPSettings(BaseSettings):
    """The HTTP connector's settings, from ``HTTP_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="HTTP_", extra="ignore", env_ignore_empty=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    auth_token: SecretStr | None = None
    hmac_secret: SecretStr | None = None
    callback_secret: SecretStr | None = None
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    rate_limit_per_minute: float = Field(default=600.0, ge=0)
    reply_timeout: float = Field(default=30.0, gt=0)
    trust_forwarded: bool = False
    idle_timeout: float = Field(default=15.0, gt=0)
    body_timeout: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=1024, ge=1)
    model_name: str = Field(default="agent-runner", min_length=1, max_length=256)

    @classmethod
    def load(cls) -> HTTPSettings:
        """Read the environment; an invalid value raises ConfigurationError."""
        try:
            return cls()
        except ValidationError as exc:
            raise ConfigurationError(settings_error(exc, prefix="HTTP_")) from None

    def connector_options(self) -> dict[str, Any]:
        """These settings as ``HTTPConnector`` keyword arguments (secrets revealed)."""
        return {
            "host": self.host,
            "port": self.port,
            "auth_token": _reveal(self.auth_token),
            "hmac_secret": _reveal(self.hmac_secret),
            "callback_secret": _reveal(self.callback_secret),
            "max_body_bytes": self.max_body_bytes,
            "rate_limit_per_minute": self.rate_limit_per_minute,
            "reply_timeout": self.reply_timeout,
            "trust_forwarded": self.trust_forwarded,
            "model_name": self.model_name,
            "limits": ServerLimits(
                idle_timeout=self.idle_timeout,
                body_timeout=self.body_timeout,
                max_connections=self.max_connections,
            ),
        }


def _reveal(value: SecretStr | None) -> str | None:
    return value.get_secret_value() or None if value is not None else None


__all__ = ["HTTPSettings"]
