"""``DISCORD_*`` settings of the Discord connector, read from the environment."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agent_runner.settings import read_settings


class DiscordSettings(BaseSettings):
    """The Discord connector's environment (every variable optional but the token).

    ==============================  ==========================================================
    ``DISCORD_TOKEN``               the bot token (secret; never logged)
    ``DISCORD_API_BASE``            REST base URL (default ``https://discord.com/api/v10``)
    ``DISCORD_GATEWAY_URL``         gateway URL (default ``wss://gateway.discord.gg/``)
    ``DISCORD_CHANNEL_IDS``         comma-separated channels to listen in (default: all)
    ``DISCORD_GUILD_IDS``           comma-separated guilds to listen in (default: all)
    ``DISCORD_MENTIONS_ONLY``       in guilds, answer only mentions and replies (true)
    ``DISCORD_DIRECT_MESSAGES``     answer direct messages (true)
    ``DISCORD_MESSAGE_CONTENT``     ask for the MESSAGE_CONTENT intent (true)
    ``DISCORD_BACKFILL``            read missed messages after downtime (true)
    ``DISCORD_BACKFILL_LIMIT``      most messages read per channel per backfill (200)
    ``DISCORD_BACKFILL_MAX_AGE``    seconds; older missed messages are skipped (86400)
    ``DISCORD_MAX_RATE_LIMIT_WAIT`` longest 429 wait, seconds, before failing a send (30, min)
    ``DISCORD_POST_CHANNEL_ID``     channel for replies to other inputs' messages (cron)
    ==============================  ==========================================================

    Example:
        >>> DiscordSettings(channel_ids="1,2").channel_ids
        (1, 2)
    """

    model_config = SettingsConfigDict(env_prefix="DISCORD_", extra="ignore", env_ignore_empty=True)

    token: SecretStr | None = None
    api_base: str | None = None
    gateway_url: str | None = None
    channel_ids: Annotated[tuple[int, ...], NoDecode] = ()
    guild_ids: Annotated[tuple[int, ...], NoDecode] = ()
    mentions_only: bool = True
    direct_messages: bool = True
    message_content: bool = True
    backfill: bool = True
    backfill_limit: int = Field(default=200, ge=1, le=10_000)
    backfill_max_age: float = Field(default=86_400.0, ge=0)
    max_rate_limit_wait: float = Field(default=30.0, ge=30.0)
    post_channel_id: int | None = None

    @field_validator("channel_ids", "guild_ids", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("token", "api_base", "gateway_url", "post_channel_id", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @classmethod
    def load(cls) -> DiscordSettings:
        """Read the environment; a malformed value raises ConfigurationError."""
        return read_settings(cls)


__all__ = ["DiscordSettings"]
