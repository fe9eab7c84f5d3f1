"""RedisStore's shared counters: each call is one Lua script, atomic on the Redis server.

A counter ``name`` is two keys under the store's prefix: ``counter:{name}`` (hash: ``v``
the settled value, ``h:{hold}`` the amount of each hold) and ``counter-holds:{name}``
(sorted set: hold id by the millisecond it stops counting). Times come from Redis's
``TIME``, so the replicas' clocks do not matter. A counter made with ``expires_in`` gets it
as the keys' ``PEXPIRE``.

When Redis cannot be reached a call raises :class:`~agent_runner.errors.StoreError`: a
limit is never assumed to have room (budgets fail closed). After a restart that lost the
data, counters come back empty; budgets reseed theirs from the cost ledger.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from agent_runner.store import Refusal
from agent_runner.store._counters import _hold_until

Call = Callable[..., Awaitable[Any]]

# the value of counter c (hash) with holds z (sorted set) at ``now`` (ms), or nil
_VALUE_OF = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function value(c, z)
  local expired = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  for _, id in ipairs(expired) do redis.call('HDEL', c, 'h:' .. id) end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', now) end
  local fields = redis.call('HGETALL', c)
  if #fields == 0 then return nil end
  local total = 0
  for i = 2, #fields, 2 do total = total + tonumber(fields[i]) end
  return total
end
"""

# KEYS: (counter, holds) per name; ARGV: amount, hold, hold ttl ms, expires in ms, seeded,
# then one limit per name. False when added, else {index, value, missing}.
_TAKE = (
    _VALUE_OF
    + """
local n = #KEYS / 2
local amount = tonumber(ARGV[1])
for i = 1, n do
  local v = value(KEYS[2 * i - 1], KEYS[2 * i])
  if v == nil and ARGV[5] == '1' then return {i, '0', 1} end
  v = v or 0
  local limit = tonumber(ARGV[5 + i])
  if v >= limit or v + amount > limit then return {i, string.format('%.17g', v), 0} end
end
for i = 1, n do
  local c, z = KEYS[2 * i - 1], KEYS[2 * i]
  local fresh = redis.call('EXISTS', c) == 0
  if ARGV[2] == '' then
    redis.call('HINCRBYFLOAT', c, 'v', ARGV[1])
  else
    redis.call('HSETNX', c, 'v', '0')
    redis.call('HSET', c, 'h:' .. ARGV[2], ARGV[1])
    redis.call('ZADD', z, now + tonumber(ARGV[3]), ARGV[2])
  end
  if fresh and ARGV[4] ~= '' then
    redis.call('PEXPIRE', c, ARGV[4])
    if ARGV[2] ~= '' then redis.call('PEXPIRE', z, ARGV[4]) end
  end
end
return false
"""
)

# KEYS: (counter, holds) per name; ARGV: hold, amount.
_SETTLE = """
for i = 1, #KEYS / 2 do
  local c, z = KEYS[2 * i - 1], KEYS[2 * i]
  if ARGV[1] ~= '' then
    redis.call('HDEL', c, 'h:' .. ARGV[1])
    redis.call('ZREM', z, ARGV[1])
  end
  if redis.call('EXISTS', c) == 1 then redis.call('HINCRBYFLOAT', c, 'v', ARGV[2]) end
end
return 0
"""

# KEYS: (counter, holds) per name; ARGV: expires in ms, then one value per name.
_SEED = (
    _VALUE_OF
    + """
for i = 1, #KEYS / 2 do
  local c = KEYS[2 * i - 1]
  if value(c, KEYS[2 * i]) == nil then
    redis.call('HSET', c, 'v', ARGV[1 + i])
    if ARGV[1] ~= '' then redis.call('PEXPIRE', c, ARGV[1]) end
  end
end
return 0
"""
)

_VALUE = (
    _VALUE_OF
    + """
local v = value(KEYS[1], KEYS[2])
if v == nil then return false end
return string.format('%.17g', v)
"""
)


def _ms(seconds: float | None) -> str:
    return "" if seconds is None else str(max(1, round(seconds * 1000)))


class RedisCounters:
    """:class:`~agent_runner.store.SharedCounters` in Redis (``RedisStore.counters()``).

    Args:
        call: sends one command through the store's pipeline and returns its reply.
        key: the store's key for a name (its prefix added).
    """

    across_hosts = True
    """Every process on this Redis shares them, wherever it runs."""

    def __init__(self, call: Call, key: Callable[[str], str]) -> None:
        self._call = call
        self._key = key

    def _keys(self, names: Sequence[str]) -> list[str]:
        keys: list[str] = []
        for name in names:
            keys += [self._key(f"counter:{name}"), self._key(f"counter-holds:{name}")]
        return keys

    async def take(
        self,
        limits: Mapping[str, float],
        amount: float,
        *,
        hold: str | None = None,
        ttl: float | None = None,
        expires_in: float | None = None,
        seeded: bool = False,
    ) -> Refusal | None:
        _hold_until(hold, ttl, 0.0)  # validates the ttl
        names = list(limits)
        keys = self._keys(names)
        hold_ms = _ms(ttl) or "0"
        args = [repr(float(amount)), hold or "", hold_ms, _ms(expires_in), "1" if seeded else "0"]
        args += [repr(float(limits[name])) for name in names]
        refused = await self._call("EVAL", _TAKE, len(keys), *keys, *args)
        if not refused:
            return None
        index, value, missing = refused
        name = names[int(index) - 1]
        return Refusal(name, float(value), limits[name], missing=bool(int(missing)))

    async def settle(self, hold: str | None, names: Sequence[str], amount: float = 0.0) -> None:
        keys = self._keys(names)
        if keys:
            await self._call("EVAL", _SETTLE, len(keys), *keys, hold or "", repr(float(amount)))

    async def seed(self, values: Mapping[str, float], *, expires_in: float | None = None) -> None:
        names = list(values)
        keys = self._keys(names)
        if keys:
            seeds = [repr(float(values[name])) for name in names]
            await self._call("EVAL", _SEED, len(keys), *keys, _ms(expires_in), *seeds)

    async def value(self, name: str) -> float | None:
        value = await self._call("EVAL", _VALUE, 2, *self._keys([name]))
        return None if value is None else float(value)


__all__ = ["RedisCounters"]
