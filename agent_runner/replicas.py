"""One variable to scale: ``REDIS_URL`` picks the store and the core runtime of a bot.

A bot built with these runs in one process on a SQLite file when ``REDIS_URL`` is unset, and
as one of many replicas on Redis when it is set, with no other change::

    from agent_runner import AgentRuntime, runtime_from_env, store_from_env

    runtime = AgentRuntime([http], [http], agent,
                           store=store_from_env(), runtime=runtime_from_env())

With ``REDIS_URL`` set, every replica journals to and remembers in the same
:class:`~agent_runner.distributed.RedisStore`, and its conversations are actors of the same
:class:`~agent_runner.distributed.DistributedAgentRuntime`: each replica hosts conversation
turns (unless ``AGENT_RUNNER_HOST_CONVERSATIONS=false``: an ingest-only replica), a
conversation runs on one replica at a time, and a replica that dies hands its conversations
to the others. Limits (budgets, X's daily cap) are then shared by all replicas
(:mod:`agent_runner.store`'s shared counters). Keys live under the bot's name
(``AGENT_RUNNER_NAME``, else its file's name), so two bots can share one Redis.

Needs the ``redis`` extra when ``REDIS_URL`` is set; without it nothing of Redis is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_runner.settings import RunnerSettings, bot_name, load_settings
from agent_runner.store import SQLiteStore, Store

if TYPE_CHECKING:
    from agent_runner.core import MessageRuntime

_SCHEMES = ("redis://", "rediss://", "unix://")


def redis_prefix(settings: RunnerSettings) -> str:
    """The Redis key prefix of this bot: its name (``AGENT_RUNNER_NAME`` or its file's)."""
    return bot_name(settings.name)


def store_from_env(settings: RunnerSettings | None = None) -> Store:
    """The bot's store: Redis when ``REDIS_URL`` is set, else its SQLite file.

    Args:
        settings: the runner settings (default: read from the environment).

    Example:
        >>> type(store_from_env(RunnerSettings(redis_url=None))).__name__
        'SQLiteStore'
    """
    settings = settings or load_settings()
    if settings.redis_url is None:
        return SQLiteStore(settings.store_path)
    from agent_runner.distributed import RedisStore

    return RedisStore(settings.redis_url, prefix=redis_prefix(settings))


def runtime_from_env(settings: RunnerSettings | None = None) -> MessageRuntime | None:
    """The core runtime for the bot's conversations: distributed over Redis when
    ``REDIS_URL`` is set, else None (the runner's own in-process runtime).

    Args:
        settings: the runner settings (default: read from the environment).
    """
    settings = settings or load_settings()
    if settings.redis_url is None or not settings.redis_url.startswith(_SCHEMES):
        return None  # a bad URL is refused, naming it, when the store opens (and by `check`)
    from agent_runner.distributed import DistributedAgentRuntime

    return DistributedAgentRuntime(settings.redis_url, prefix=redis_prefix(settings))


__all__ = ["redis_prefix", "runtime_from_env", "store_from_env"]
