"""Link: the dedicated connection of the hot loops (packed commands, pipeline-like results)."""

from __future__ import annotations

import pytest
import redis.asyncio as redis
from redis.exceptions import ResponseError

from agent_runner.distributed._link import Link
from agent_runner.distributed._wire import stream_entries


async def test_batch_results_in_order_with_errors_in_place(
    redis_url: str, redis_prefix: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    link = Link(client)
    try:
        key = f"{redis_prefix}:k"
        results = await link.execute(
            [("SET", key, "1"), ("HGET", key, "f"), ("INCR", key), ("GET", key)]
        )
        assert results[0] is True
        assert isinstance(results[1], ResponseError)  # WRONGTYPE, the batch goes on
        assert results[2:] == [2, b"2"]
        assert await link.execute([("GET", key)]) == [b"2"]
    finally:
        await link.close()
        await client.aclose()


async def test_a_packed_command_is_sent_again_and_survives_a_dropped_connection(
    redis_url: str, redis_prefix: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    link = Link(client)
    try:
        stream = f"{redis_prefix}:s"
        await client.xadd(stream, {"h": b"x"})
        packed = link.pack("XREAD", "COUNT", 10, "STREAMS", stream, "0-0")
        first = await link.execute_packed(packed, "XREAD")
        assert [f for _, batch in stream_entries(first) for _, f in batch] == [{b"h": b"x"}]
        (conn_id,) = await link.execute([("CLIENT", "ID")])
        assert await client.client_kill_filter(_id=conn_id) == 1  # drops the link's socket
        try:
            again = await link.execute_packed(packed, "XREAD")
        except (redis.ConnectionError, ConnectionError):
            again = await link.execute_packed(packed, "XREAD")  # the next command reconnects
        assert again == first
        (new_id,) = await link.execute([("CLIENT", "ID")])
        assert new_id != conn_id
        with pytest.raises(ResponseError):
            await link.execute_packed(link.pack("XREAD", "STREAMS", stream), "XREAD")
        assert await link.execute([("CLIENT", "ID")]) == [new_id]  # an error keeps it
    finally:
        await link.close()
        await client.aclose()
