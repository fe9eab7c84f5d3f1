"""Workers, heartbeats and partition leases.

A worker advertises the agent types it hosts with a heartbeat: a key with a TTL
(``{prefix}:worker:{id}``) and its id in a sorted set per type (``{prefix}:members:{type}``)
scored with its heartbeat's expiry in Redis server time, so clocks of the workers don't
matter. Members whose score has passed are dead and are removed by the next heartbeat.

Each type's keys are spread over a fixed number of partitions (streams). Rendezvous hashing
over the live members says which worker should own each partition; a lease key
(``{prefix}:lease:{type}:{p}``, value = worker id, with a TTL, renewed at every heartbeat)
says which one does. A worker takes a partition only when its lease is free, and gives one up
only after its in-flight messages are handled: one key is active in one worker at a time.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Sequence
from typing import Any

import redis.asyncio as redis

from agent_runner.distributed._wire import Keys

_HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me, ttl = ARGV[1], tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)
local out = {}
for i = 3, #KEYS do
  local agent_type, parts = ARGV[2 + 2 * (i - 2)], ARGV[3 + 2 * (i - 2)]
  redis.call('HSETNX', KEYS[2], agent_type, parts)
  redis.call('ZADD', KEYS[i], now + ttl, me)
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  out[#out + 1] = redis.call('HGET', KEYS[2], agent_type)
  out[#out + 1] = redis.call('ZRANGE', KEYS[i], 0, -1)
end
return out
"""

_ACQUIRE = """
local out = {}
for i = 1, #KEYS do
  local holder = redis.call('GET', KEYS[i])
  if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
    out[i] = 1
  elseif holder then
    out[i] = holder
  else
    redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
    out[i] = 1
  end
end
return out
"""

_RENEW = """
local out = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""

_RELEASE = """
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return #KEYS
"""

_LEAVE = """
for i = 2, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
redis.call('DEL', KEYS[1])
return 1
"""

Partition = tuple[str, int]
"""(agent type, partition number)."""


class Registry:
    """Heartbeats and leases of one worker. Every method is one round trip."""

    def __init__(self, client: redis.Redis, keys: Keys, worker_id: str) -> None:
        self._client = client
        self._keys = keys
        self.worker_id = worker_id
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._leave = client.register_script(_LEAVE)

    def _info(self, types: Sequence[str]) -> str:
        return json.dumps(
            {"types": list(types), "host": socket.gethostname(), "pid": os.getpid()},
            separators=(",", ":"),
        )

    async def beat(self, types: dict[str, int], ttl_ms: int) -> dict[str, tuple[int, list[str]]]:
        """Advertise ``types`` (type -> wanted partition count) for ``ttl_ms``.

        Returns, per type, the partition count in force (the first worker to register a
        type sets it) and the live members hosting it.
        """
        names = sorted(types)
        keys = [self._keys.worker(self.worker_id), self._keys.types]
        keys += [self._keys.members(t) for t in names]
        args: list[Any] = [self.worker_id, ttl_ms, self._info(names)]
        for name in names:
            args += [name, types[name]]
        raw = await self._heartbeat(keys=keys, args=args)
        out: dict[str, tuple[int, list[str]]] = {}
        for i, name in enumerate(names):
            parts, members = raw[2 * i], raw[2 * i + 1]
            out[name] = (int(parts), [_text(m) for m in members])
        return out

    async def acquire(
        self, partitions: Sequence[Partition], ttl_ms: int
    ) -> tuple[set[Partition], set[str]]:
        """Take the free leases among ``partitions`` (or renew ours).

        Returns the partitions now held and the workers holding the others.
        """
        if not partitions:
            return set(), set()
        keys = [self._keys.lease(t, p) for t, p in partitions]
        flags = await self._acquire(keys=keys, args=[self.worker_id, ttl_ms])
        held: set[Partition] = set()
        holders: set[str] = set()
        for part, flag in zip(partitions, flags, strict=True):
            if isinstance(flag, int):
                held.add(part)
            else:
                holders.add(_text(flag))
        return held, holders

    async def renew(self, partitions: Sequence[Partition], ttl_ms: int) -> set[Partition]:
        """Extend our leases. Returns those still held (the others were lost)."""
        if not partitions:
            return set()
        keys = [self._keys.lease(t, p) for t, p in partitions]
        flags = await self._renew(keys=keys, args=[self.worker_id, ttl_ms])
        return {part for part, flag in zip(partitions, flags, strict=True) if int(flag) == 1}

    async def release(self, partitions: Iterable[Partition]) -> None:
        """Give leases up (only those we hold)."""
        keys = [self._keys.lease(t, p) for t, p in partitions]
        if keys:
            await self._release(keys=keys, args=[self.worker_id])

    async def leave(self, types: Iterable[str]) -> None:
        """Remove our heartbeat at once (a clean shutdown)."""
        keys = [self._keys.worker(self.worker_id)] + [self._keys.members(t) for t in types]
        await self._leave(keys=keys, args=[self.worker_id])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
