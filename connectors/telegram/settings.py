"""``TELEGRAM_*`` settings of the Telegram connector, read from the environment."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agent_runner.settings import read_settings


class TelegramSettings(BaseSettings):
    """The Telegram connector's environment (every variable optional but the token).

    ================================  ========================================================
    ``TELEGRAM_BOT_TOKEN``            the bot token from @BotFather (secret; never logged)
    ``TELEGRAM_API_BASE``             Bot API root (default ``https://api.telegram.org``):
                                      a local Bot API server, a proxy, a fake
    ``TELEGRAM_MODE``                 ``polling`` (default) or ``webhook``
    ``TELEGRAM_WEBHOOK_URL``          the public HTTPS URL Telegram posts updates to
    ``TELEGRAM_WEBHOOK_SECRET``       checked on every webhook request (secret)
    ``TELEGRAM_WEBHOOK_HOST``         interface the webhook server listens on (127.0.0.1)
    ``TELEGRAM_WEBHOOK_PORT``         its port (8443; 0 picks a free one)
    ``TELEGRAM_CHAT_IDS``             comma-separated group chats to answer in (default: all)
    ``TELEGRAM_COMMANDS``             commands that address the bot in groups (``ask``)
    ``TELEGRAM_DIRECT_MESSAGES``      answer private chats (true)
    ``TELEGRAM_POLL_TIMEOUT``         long-poll seconds per ``getUpdates`` (30)
    ``TELEGRAM_MAX_RETRY_AFTER``      longest 429 wait honoured, seconds (30)
    ``TELEGRAM_POST_CHAT_ID``         chat for replies to other inputs' messages (cron)
    ================================  ========================================================

    Example:
        >>> TelegramSettings(chat_ids="-100123, -100456").chat_ids
        (-100123, -100456)
    """

    model_config = SettingsConfigDict(env_prefix="TELEGRAM_", extra="ignore", env_ignore_empty=True)

    bot_token: SecretStr | None = None
    api_base: str | None = None
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=0, le=65535)
    chat_ids: Annotated[tuple[int, ...], NoDecode] = ()
    commands: Annotated[tuple[str, ...], NoDecode] = ("ask",)
    direct_messages: bool = True
    poll_timeout: int = Field(default=30, ge=0, le=50)
    max_retry_after: float = Field(default=30.0, ge=0)
    post_chat_id: int | None = None

    @field_validator("chat_ids", "commands", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip().lstrip("/") for part in value.split(",") if part.strip())
        return value

    @field_validator("bot_token", "api_base", "webhook_url", "webhook_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @classmethod
    def load(cls) -> TelegramSettings:
        """Read the environment; a malformed value raises ConfigurationError."""
        return read_settings(cls)


__all__ = ["TelegramSettings"]
