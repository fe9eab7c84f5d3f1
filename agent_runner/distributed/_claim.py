"""Taking over a partition: its consumer group, and the messages a dead worker left pending.

When a worker acquires a partition's lease it makes sure the stream and its group exist,
then moves every pending entry that has been idle for ``min_idle_ms`` to itself with
``XAUTOCLAIM``. The partition is read only once no other consumer holds a pending entry, so
the messages of one key are never handled by two workers at once nor out of order: the
claimed entries are re-read (``XREADGROUP ... 0``) before any new ones (``>``).
"""

from __future__ import annotations

import logging
from typing import Any, cast

import redis.asyncio as redis
from redis.exceptions import ResponseError

from agent_runner.distributed._wire import GROUP

logger = logging.getLogger(__name__)


async def _command(client: redis.Redis, *args: Any) -> Any:
    return await cast(Any, client).execute_command(*args)


async def ensure_group(client: redis.Redis, stream: str, start: str = "0") -> None:
    """Create ``stream`` and its consumer group if missing."""
    try:
        await _command(client, "XGROUP", "CREATE", stream, GROUP, start, "MKSTREAM")
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def claim_pending(
    client: redis.Redis, stream: str, consumer: str, *, min_idle_ms: int, batch: int = 1000
) -> tuple[int, int]:
    """Claim the group's entries idle for ``min_idle_ms`` from other consumers.

    Returns how many entries were claimed, and how many other consumers still hold (0 when
    the partition is ours alone). Consumers left without pending entries are deleted from
    the group.
    """
    start = "0-0"
    claimed = 0
    for _ in range(10_000):
        reply: Any = await client.xautoclaim(
            stream, GROUP, consumer, min_idle_ms, start_id=start, count=batch
        )
        cursor, ids = reply[0], reply[1]
        claimed += len(ids)
        start = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
        if start == "0-0":
            break
    remaining = 0
    for info in await client.xinfo_consumers(stream, GROUP):
        name = info["name"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        if name == consumer:
            continue
        pending = int(info["pending"])
        if pending:
            remaining += pending
        else:
            await _command(client, "XGROUP", "DELCONSUMER", stream, GROUP, name)
    if claimed:
        logger.info("claimed %d pending messages on %s", claimed, stream)
    return claimed, remaining
