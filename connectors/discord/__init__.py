"""The Discord connector (``agent-runner[discord]``): gateway messages in, replies out.

- :mod:`~connectors.discord.connector`: :class:`DiscordConnector`, input and output.
- :mod:`~connectors.discord.settings`: :class:`DiscordSettings` (``DISCORD_*``).
- :mod:`~connectors.discord.errors`: :data:`TRANSIENT_ERRORS`, the failures worth retrying.
- Behind them: ``client`` (discord.py pointed at configurable endpoints), ``convert`` (which
  messages to answer, as runner messages), ``cursors`` and ``backfill`` (what arrived during
  downtime), ``posting`` and ``split`` (replies at 2,000 characters).

Example:
    ::

        from connectors.discord import DiscordConnector

        discord = DiscordConnector()          # DISCORD_TOKEN etc. from the environment
"""

from connectors.discord.backfill import BACKFILL_RETRY_MAX
from connectors.discord.connector import TYPING_REFRESH, DiscordConnector
from connectors.discord.errors import TRANSIENT_ERRORS
from connectors.discord.posting import DEPTH_MEMORY
from connectors.discord.settings import DiscordSettings
from connectors.discord.split import split_message

__all__ = [
    "BACKFILL_RETRY_MAX",
    "DEPTH_MEMORY",
    "DiscordConnector",
    "DiscordSettings",
    "TRANSIENT_ERRORS",
    "TYPING_REFRESH",
    "split_message",
]
