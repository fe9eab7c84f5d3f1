"""``SLACK_*`` settings of the Slack connector, read from the environment."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agent_runner.settings import read_settings


class SlackSettings(BaseSettings):
    """The Slack connector's environment (the bot token, and an app token or signing secret).

    ============================  ============================================================
    ``SLACK_BOT_TOKEN``           the bot token, ``xoxb-...`` (secret; never logged)
    ``SLACK_APP_TOKEN``           app-level token for Socket Mode, ``xapp-...`` (secret)
    ``SLACK_SIGNING_SECRET``      verifies Events API requests (secret)
    ``SLACK_API_BASE``            Web API root (default ``https://slack.com/api/``)
    ``SLACK_MODE``                ``socket`` or ``events`` (default: socket with an app token)
    ``SLACK_EVENTS_HOST``         Events API mode: the interface to listen on (127.0.0.1)
    ``SLACK_EVENTS_PORT``         Events API mode: the port (3000; 0 picks a free one)
    ``SLACK_EVENTS_PATH``         Events API mode: the request URL's path (``/slack/events``)
    ``SLACK_CHANNEL_IDS``         comma-separated channels to answer in (default: all)
    ``SLACK_DIRECT_MESSAGES``     answer direct messages (true)
    ``SLACK_MAX_RETRY_AFTER``     longest 429 ``Retry-After`` obeyed, seconds (30)
    ``SLACK_POST_CHANNEL_ID``     channel for replies to other inputs' messages (cron)
    ============================  ============================================================

    Example:
        >>> SlackSettings(channel_ids="C1, C2").channel_ids
        ('C1', 'C2')
    """

    model_config = SettingsConfigDict(env_prefix="SLACK_", extra="ignore", env_ignore_empty=True)

    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    api_base: str | None = None
    mode: Literal["socket", "events"] | None = None
    events_host: str = "127.0.0.1"
    events_port: int = Field(default=3000, ge=0, le=65535)
    events_path: str = "/slack/events"
    channel_ids: Annotated[tuple[str, ...], NoDecode] = ()
    direct_messages: bool = True
    max_retry_after: float = Field(default=30.0, ge=0)
    post_channel_id: str | None = None

    @field_validator("channel_ids", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator(
        "bot_token", "app_token", "signing_secret", "api_base", "post_channel_id", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @classmethod
    def load(cls) -> SlackSettings:
        """Read the environment; a malformed value raises ConfigurationError."""
        return read_settings(cls)


__all__ = ["SlackSettings"]
