"""Connections to Redis: the runtime's client, and the one connection each hot loop holds.

The client (:func:`redis_client`) serves the occasional commands. Each hot loop's commands go
out packed on a :class:`Link`, without per-call setup:

redis-py's ``execute_command`` and pipelines borrow a pool connection, wrap the call in a
retry and pack every argument on every call: about 35 us per command here, and packing the
read loop's ``XREADGROUP`` over 80+ streams costs over 100 us more. The read loop, the reply
loop and the outbox each run one command (or batch) at a time, so each holds a
:class:`Link`: one connection of its own, configured as the client's, commands written as packed
bytes (a caller may reuse the packed form of a command that does not change) and replies
parsed with the client's response callbacks, as a pipeline would. Connection errors
disconnect it (the next command reconnects); the callers' loops retry with backoff. The
client's ``socket_timeout`` bounds every exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agent_runner.errors import ConfigurationError

_DEFAULT_TIMEOUT = 30.0
"""Seconds one exchange may take when the client sets no ``socket_timeout``."""


def redis_client(
    redis_url: str, *, block: float, client_name: str, options: Mapping[str, Any] | None
) -> redis.Redis:
    """The runtime's client: exchanges bounded to ``block`` + 10 s, connects in 5 s, a few
    retries on connection errors; ``options`` (``redis_options``) override any of it."""
    kwargs: dict[str, Any] = {
        "socket_timeout": block + 10.0,
        "socket_connect_timeout": 5.0,
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), 3),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError, ConnectionResetError],
        "client_name": client_name,
    }
    kwargs.update(options or {})
    try:
        return redis.Redis.from_url(redis_url, **kwargs)
    except ValueError as exc:
        raise ConfigurationError(f"invalid redis_url: {exc}") from exc


class Link:
    """A dedicated connection for one loop (one command or batch at a time).

    Made like ``client``'s pooled connections but without their socket timeout: redis-py
    bounds each write with ``asyncio.wait_for`` (a task and extra loop turns per command);
    here one ``asyncio.timeout`` of the same length bounds the whole exchange.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client: Any = client
        pool: Any = client.connection_pool
        kwargs = dict(pool.connection_kwargs)
        # Every exchange is bounded, even when a user's redis_options unset socket_timeout.
        self._timeout: float = kwargs.get("socket_timeout") or _DEFAULT_TIMEOUT
        kwargs["socket_timeout"] = None
        self._kwargs = kwargs
        self._class = pool.connection_class
        self._conn: Any = None

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self._class(**self._kwargs)  # connects on its first command
        return self._conn

    def pack(self, *args: Any) -> list[bytes]:
        """The wire form of one command (to send now or keep and send again)."""
        return list(self._connection().pack_command(*args))

    async def execute_packed(self, packed: Sequence[bytes], name: str) -> Any:
        """Send one packed command and return its parsed reply (errors raise)."""
        conn = self._connection()
        async with asyncio.timeout(self._timeout):
            try:
                await conn.send_packed_command(packed)
                return await self._client.parse_response(conn, name)
            except ResponseError:
                raise
            except BaseException:
                await self._drop()
                raise

    async def execute(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Run commands in one round trip; a command's error is its result (as a pipeline
        with ``raise_on_error=False``). Connection errors raise."""
        conn = self._connection()
        async with asyncio.timeout(self._timeout):
            try:
                if len(commands) == 1:
                    packed = conn.pack_command(*commands[0])
                else:
                    packed = conn.pack_commands(commands)
                await conn.send_packed_command(packed)
                results: list[Any] = []
                parse = self._client.parse_response
                for args in commands:
                    try:
                        results.append(await parse(conn, args[0]))
                    except ResponseError as exc:
                        results.append(exc)
                return results
            except BaseException:
                await self._drop()
                raise

    async def _drop(self) -> None:
        """Forget a connection in an unknown state (the next command makes a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.disconnect(nowait=True)

    async def close(self) -> None:
        """Disconnect."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.disconnect()
