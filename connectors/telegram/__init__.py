"""Telegram: a bot on python-telegram-bot (extra ``telegram``), polling or webhook.

See :mod:`connectors.telegram.connector` for the contract; test offline against
:class:`agent_runner.testing.telegram.FakeTelegram`.
"""

from connectors.telegram.calls import DEFAULT_RETRY
from connectors.telegram.connector import TelegramConnector
from connectors.telegram.format import TELEGRAM_LIMIT, render_html, split_reply
from connectors.telegram.settings import TelegramSettings

__all__ = [
    "DEFAULT_RETRY",
    "TELEGRAM_LIMIT",
    "TelegramConnector",
    "TelegramSettings",
    "render_html",
    "split_reply",
]
