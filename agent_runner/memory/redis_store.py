"""RedisMemoryStore: long-term memory in Redis, shared by every worker of a deployment.

Debian's ``redis-server`` has no vector search module, so vectors are stored per scope and
searched exactly on the client, on a matrix cached per scope and reloaded only when the
scope's version moved (one ``GET`` per recall when nothing changed; see
:mod:`agent_runner.memory.search`). Writes, retention and deletes are Lua scripts, atomic per
scope.

Keys (under ``{prefix}:ltm:``): ``s:{scope}:rec`` (hash: id -> JSON record), ``s:{scope}:vec``
(hash: id -> creation time as a float64 then the float32 vector: one ``HGETALL`` reloads a
scope), ``s:{scope}:ord`` (sorted set: id by creation time),
``s:{scope}:ver`` (the scope's version, never reset), ``a:{author}`` (set of ``scope␀id`` the
author wrote). The scripts touch an author's key derived from the prefix: one Redis server,
not a cluster.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

from agent_runner.errors import ConfigurationError, StoreError
from agent_runner.memory.records import MemoryRecord, Recalled
from agent_runner.memory.search import ScopeIndex

# Deletes one record of the scope whose keys are KEYS[1..3] (rec, vec, ord) and its entry in
# its author's set; returns 1 when it was there.
_DROP = """
local function drop(prefix, scope, id)
  local raw = redis.call('HGET', KEYS[1], id)
  if not raw then return 0 end
  local author = cjson.decode(raw)['author']
  if author and author ~= cjson.null then
    redis.call('SREM', prefix .. author, scope .. '\\0' .. id)
  end
  redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  return 1
end
"""

# KEYS: rec, vec, ord, ver. ARGV: id, json, vector, created, max (0: none), since ('' : none),
# author-key prefix, scope, author ('' : none)
_ADD = (
    _DROP
    + """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
if ARGV[9] ~= '' then redis.call('SADD', ARGV[7] .. ARGV[9], ARGV[8] .. '\\0' .. ARGV[1]) end
local dropped = 0
if ARGV[6] ~= '' then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[6])) do
    dropped = dropped + drop(ARGV[7], ARGV[8], id)
  end
end
local extra = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[5])
if tonumber(ARGV[5]) > 0 and extra > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, extra - 1)) do
    dropped = dropped + drop(ARGV[7], ARGV[8], id)
  end
end
redis.call('INCR', KEYS[4])
return dropped
"""
)

# KEYS: rec, vec, ord, ver. ARGV: author-key prefix, scope, id ('' : every record)
_DELETE = (
    _DROP
    + """
local ids
if ARGV[3] == '' then ids = redis.call('HKEYS', KEYS[1]) else ids = {ARGV[3]} end
local gone = 0
for _, id in ipairs(ids) do gone = gone + drop(ARGV[1], ARGV[2], id) end
redis.call('INCR', KEYS[4])
return gone
"""
)


_CREATED = struct.Struct("<d")  # each vector is stored after its record's creation time


class RedisMemoryStore:
    """A :class:`~agent_runner.memory.MemoryBackend` in Redis (the ``redis`` extra).

    Args:
        redis_url: ``redis://`` or ``rediss://`` URL.
        prefix: key prefix (deployments sharing one Redis use different ones).
        cached_scopes: how many scopes' matrices stay in memory between searches.
        redis_options: extra keyword arguments for ``redis.asyncio.Redis.from_url``.

    Example::

        memory = LongTermMemory(RedisMemoryStore("redis://127.0.0.1:6379/0"), embedder)
    """

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = "agent-runner",
        cached_scopes: int = 256,
        redis_options: dict[str, Any] | None = None,
    ) -> None:
        self._url = redis_url
        self._prefix = f"{prefix}:ltm"
        self._options: dict[str, Any] = {"socket_timeout": 10.0, "socket_connect_timeout": 5.0}
        self._options.update(redis_options or {})
        self._client: Any = None
        self._index = ScopeIndex(max_scopes=cached_scopes)

    def _keys(self, scope: str) -> list[str]:
        return [f"{self._prefix}:s:{scope}:{part}" for part in ("rec", "vec", "ord", "ver")]

    async def open(self) -> None:
        if self._client is not None:
            return
        import redis.asyncio as redis

        try:
            self._client = redis.Redis.from_url(self._url, **self._options)
        except ValueError as exc:
            raise ConfigurationError(f"invalid redis_url: {exc}") from exc
        self._add = self._client.register_script(_ADD)
        self._delete = self._client.register_script(_DELETE)
        await self._call(self._client.ping())

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _call(self, awaitable: Any) -> Any:
        from redis.exceptions import RedisError

        if self._client is None:
            raise StoreError("RedisMemoryStore is not open")
        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            raise StoreError(f"long-term memory (Redis): {exc}") from exc

    async def add(
        self, record: MemoryRecord, vector: bytes, *, max_items: int | None, since: float | None
    ) -> int:
        body = json.dumps(
            {
                "id": record.id,
                "scope": record.scope,
                "kind": record.kind,
                "author": record.author,
                "text": record.text,
                "created_at": record.created_at,
                "meta": record.meta,
            }
        )
        args = [
            record.id,
            body,
            _CREATED.pack(record.created_at) + vector,
            repr(record.created_at),
            max_items or 0,
            "" if since is None else repr(since),
            f"{self._prefix}:a:",
            record.scope,
            record.author or "",
        ]
        return int(await self._call(self._add(keys=self._keys(record.scope), args=args)))

    async def search(
        self, scope: str, vector: bytes, k: int, *, since: float | None
    ) -> list[Recalled]:
        rec, vec, _, ver = self._keys(scope)
        version = int(await self._call(self._client.get(ver)) or 0)
        if not self._index.cached(scope, version):
            pipe = self._client.pipeline(transaction=True)
            pipe.get(ver).hgetall(vec)
            raw_version, packed = await self._call(pipe.execute())
            rows = sorted(
                (
                    (_text(i), _CREATED.unpack_from(v)[0], v[_CREATED.size :])
                    for i, v in packed.items()
                ),
                key=lambda row: row[1],
            )
            await asyncio.to_thread(self._index.load, scope, int(raw_version or 0), rows)
        hits = await asyncio.to_thread(self._index.search, scope, vector, k, since=since)
        if not hits:
            return []
        bodies = await self._call(self._client.hmget(rec, [i for i, _ in hits]))
        return [
            Recalled(_record(body), score)
            for (_, score), body in zip(hits, bodies, strict=True)
            if body is not None
        ]

    async def delete(self, scope: str, record_id: str) -> bool:
        args = [f"{self._prefix}:a:", scope, record_id]
        return bool(await self._call(self._delete(keys=self._keys(scope), args=args)))

    async def forget_scope(self, scope: str) -> int:
        args = [f"{self._prefix}:a:", scope, ""]
        return int(await self._call(self._delete(keys=self._keys(scope), args=args)))

    async def forget_author(self, author: str) -> int:
        key = f"{self._prefix}:a:{author}"
        members = await self._call(self._client.smembers(key))
        gone = 0
        for member in sorted(_text(m) for m in members):
            scope, _, record_id = member.partition("\0")
            gone += await self.delete(scope, record_id)
        await self._call(self._client.delete(key))
        return gone

    async def count(self, scope: str) -> int:
        return int(await self._call(self._client.zcard(self._keys(scope)[2])))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _record(body: Any) -> MemoryRecord:
    data = json.loads(body)
    return MemoryRecord(
        id=data["id"],
        scope=data["scope"],
        text=data["text"],
        kind=data["kind"],
        author=data["author"],
        created_at=data["created_at"],
        meta=data["meta"],
    )


__all__ = ["RedisMemoryStore"]
