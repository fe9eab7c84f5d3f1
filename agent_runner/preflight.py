"""What ``agent-runner check`` verifies beyond parsing: what ``run`` would trip over.

:func:`preflight` returns one line per problem, each naming the setting: the data folder
cannot be written, ``REDIS_URL`` does not parse or Redis does not answer, ``LLM_BASE_URL``
is not an http(s) URL, and whatever each connector's own
:meth:`~agent_runner.connector.Preflight.preflight` finds (an ``HTTP_HOST`` that is not an
address of this machine, an ``HTTP_PORT`` in use).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from agent_runner.connector import Preflight
from agent_runner.settings import RunnerSettings, mask_url, read_settings

REDIS_TIMEOUT = 3.0
"""Seconds Redis has to answer a PING."""


async def preflight(settings: RunnerSettings, connectors: Iterable[object] = ()) -> list[str]:
    """Every problem ``agent-runner run`` would meet with these settings and connectors."""
    problems = data_dir_problems(settings.data_dir)
    if settings.redis_url:
        problems += await redis_problems(settings.redis_url)
    problems += llm_problems()
    problems += admin_problems()
    for connector in dict.fromkeys(connectors):
        if isinstance(connector, Preflight):
            problems += await connector.preflight()
    return problems


def admin_problems() -> list[str]:
    """The operator endpoint must not listen off loopback without a token."""
    from agent_runner.observability.settings import AdminSettings

    problem = read_settings(AdminSettings).problem()
    return [problem] if problem else []


def data_dir_problems(data_dir: Path) -> list[str]:
    """The data folder must be a folder we can create files in (or create)."""
    where = f"AGENT_RUNNER_DATA_DIR={data_dir}"
    existing = data_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return [f"{where}: {existing} is not a folder"]
    try:  # a file in the folder, or a folder beside where it will be created
        if existing == data_dir:
            with tempfile.TemporaryFile(dir=data_dir):
                pass
        else:
            with tempfile.TemporaryDirectory(dir=existing):
                pass
    except OSError as exc:
        problem = "not writable" if existing == data_dir else f"cannot be created in {existing}"
        return [f"{where}: {problem} ({exc.strerror or exc})"]
    return []


async def redis_problems(url: str) -> list[str]:
    """``REDIS_URL`` parses and Redis answers a PING within :data:`REDIS_TIMEOUT`."""
    shown = f"REDIS_URL={mask_url(url)}"
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        return [f"{shown}: not a redis://, rediss:// or unix:// URL"]
    try:
        import redis.asyncio as redis
    except ImportError:
        return [f"{shown}: the redis package is missing (pip install 'agent-runner[redis]')"]
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
    except ValueError as exc:
        return [f"{shown}: {exc}"]
    try:
        async with asyncio.timeout(REDIS_TIMEOUT * 2):
            await client.ping()
    except (TimeoutError, OSError, redis.RedisError) as exc:
        return [f"{shown}: Redis does not answer ({type(exc).__name__}: {exc})"]
    finally:
        await client.aclose()
    return []


def llm_problems() -> list[str]:
    """``LLM_BASE_URL``, when set, is an absolute http(s) URL."""
    from agent_runner.llm._settings import LLMSettings
    from agent_runner.settings import read_settings

    base_url = read_settings(LLMSettings).base_url
    if base_url is None:
        return []
    try:
        parts = urlsplit(base_url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port
    except ValueError:
        valid = False
    return [] if valid else [f"LLM_BASE_URL={base_url}: not an absolute http(s) URL"]


__all__ = ["REDIS_TIMEOUT", "data_dir_problems", "llm_problems", "preflight", "redis_problems"]
