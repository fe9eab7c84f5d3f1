"""python-telegram-bot, imported once, with durations read as ``timedelta`` and tokens
kept out of logs.

python-telegram-bot 22 is moving its durations (``RetryAfter.retry_after`` among them) from
``int`` seconds to ``datetime.timedelta``; until ``PTB_TIMEDELTA`` opts in, building a
``RetryAfter`` warns with a deprecation warning (an error in strict test suites). The
connector opts in unless the environment already chose.

The bot token is part of every Bot API URL (``/bot<token>/<method>``), and httpx logs each
request's URL at INFO: :func:`install_redaction` masks tokens in the httpx and
python-telegram-bot loggers.
"""

from __future__ import annotations

import logging
import os
import re

os.environ.setdefault("PTB_TIMEDELTA", "true")

import telegram  # noqa: E402
import telegram.error  # noqa: E402
import telegram.request  # noqa: E402

_SDK_LOGGERS = (
    "httpx",
    "httpcore",
    "telegram",
    "telegram.Bot",
    "telegram.BaseRequest",
    "telegram.HTTPXRequest",
)
_TOKEN = re.compile(r"bot\d+:[A-Za-z0-9_-]+")


class RedactToken(logging.Filter):
    """Replaces ``bot<id>:<secret>`` in log lines with ``bot<redacted>``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "bot" in message and _TOKEN.search(message):
            message = _TOKEN.sub("bot<redacted>", message)
        # Always freeze the text: the SDK logs objects it changes afterwards (getFile's
        # result gets the file URL, token included, after it is logged).
        record.msg, record.args = message, ()
        return True


def install_redaction(*names: str) -> None:
    """Add :class:`RedactToken` to the loggers (default: httpx's and the SDK's), once.

    A logger's filter sees only records logged on that very logger, so each is named.
    """
    for name in names or _SDK_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactToken) for f in logger.filters):
            logger.addFilter(RedactToken())


def build_bot(token: str, api_base: str, *, timeout: float) -> telegram.Bot:
    """A Bot on ``api_base`` (its methods under ``/bot``, its files under ``/file/bot``),
    every request with ``timeout`` seconds."""
    return telegram.Bot(
        token,
        base_url=f"{api_base}/bot",
        base_file_url=f"{api_base}/file/bot",
        request=telegram.request.HTTPXRequest(
            connection_pool_size=16,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
        ),
        get_updates_request=telegram.request.HTTPXRequest(
            read_timeout=timeout, connect_timeout=timeout, pool_timeout=timeout
        ),
    )


__all__ = ["RedactToken", "build_bot", "install_redaction", "telegram"]
