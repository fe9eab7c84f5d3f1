"""Which discord.py failures are worth retrying, and which a REST call may raise.

The connector raises the runner's errors (:mod:`agent_runner.errors`): ``ConfigurationError``
for a rejected token or intent, ``RateLimitedError`` for a 429 over the wait cap,
``DeliveryError`` when Discord refuses a reply, ``ConnectorError`` for the rest.
"""

from __future__ import annotations

import aiohttp

from connectors.discord.sdk import discord

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    OSError,
    TimeoutError,
    discord.DiscordServerError,
)
"""Failures worth retrying (the runner retries sends with capped backoff)."""
REST_ERRORS: tuple[type[BaseException], ...] = (
    *TRANSIENT_ERRORS,
    discord.HTTPException,
    discord.RateLimited,
)
"""What a REST call (login, a channel's history) may raise besides a bug."""

__all__ = ["REST_ERRORS", "TRANSIENT_ERRORS"]
