"""The X connector's settings, read from ``X_*`` environment variables."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent_runner.errors import ConfigurationError
from agent_runner.settings import settings_error


class XSettings(BaseSettings):
    """The X connector's settings, from ``X_*`` environment variables.

    Attributes:
        api_key: ``X_API_KEY``, the OAuth 1.0a consumer key.
        api_secret: ``X_API_SECRET``, the consumer secret.
        access_token: ``X_ACCESS_TOKEN``, the bot account's access token.
        access_token_secret: ``X_ACCESS_TOKEN_SECRET``, its secret.
        bearer_token: ``X_BEARER_TOKEN``, app-only token for reads.
        user_id: ``X_USER_ID``, the bot's numeric id (looked up when unset and OAuth is set).
        api_base: ``X_API_BASE``, another API root (a proxy, a compatible server, the fake);
            unset means the real X.
        poll_interval: ``X_POLL_INTERVAL``, seconds between mention polls.
        daily_post_cap: ``X_DAILY_POST_CAP``, most tweets per UTC day (unset: no cap).
        dry_run: ``X_DRY_RUN``, log tweets instead of posting them.
    """

    model_config = SettingsConfigDict(env_prefix="X_", extra="ignore", env_ignore_empty=True)

    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None
    bearer_token: SecretStr | None = None
    user_id: str | None = None
    api_base: str | None = None
    poll_interval: float = Field(default=60.0, gt=0)
    daily_post_cap: int | None = Field(default=None, ge=0)
    dry_run: bool = False

    def connector_options(self) -> dict[str, Any]:
        """These settings as ``XConnector`` keyword arguments (secrets revealed)."""
        return {
            "api_key": _reveal(self.api_key),
            "api_secret": _reveal(self.api_secret),
            "access_token": _reveal(self.access_token),
            "access_token_secret": _reveal(self.access_token_secret),
            "bearer_token": _reveal(self.bearer_token),
            "user_id": self.user_id,
            "api_base": self.api_base,
            "poll_interval": self.poll_interval,
            "daily_post_cap": self.daily_post_cap,
            "dry_run": self.dry_run,
        }


def read_settings(**values: Any) -> XSettings:
    """XSettings from the environment, ``values`` on top; ConfigurationError if invalid."""
    try:
        return XSettings(**values)
    except ValidationError as exc:
        raise ConfigurationError(settings_error(exc, prefix="X_")) from None


def _reveal(value: SecretStr | None) -> str | None:
    return value.get_secret_value() or None if value is not None else None


__all__ = ["XSettings", "read_settings"]
