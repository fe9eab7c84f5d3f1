"""RedisStore: the runner's Store in Redis, shared by every process of a deployment.

Every call goes through one ordered pipeline (group commit): concurrent callers share round
trips, and calls reach Redis in the order they were made, so acceptance order is call order
and a read sees every write made before it. Claims that must be atomic across processes
(journal accept, reply claim, payment use) are single commands or Lua scripts.

Keys (under ``{prefix}:store:``): ``journal`` (hash: every journaled key -> seq),
``pending`` (sorted set: pending key by seq), ``entries`` (hash: pending key -> JSON entry),
``seq``, ``owners`` (set: the replicas that journaled entries, see
:mod:`agent_runner.distributed._redis_owners`), ``replies`` (hash: ``output␀key`` -> JSON
ledger entry: attempts, outcome, parts),
``cursors``, ``mem:{conv}`` (list of JSON items), ``costs`` (list of JSON entries) and
``cost:sum`` (hash of running totals), ``payments`` (hash: reference -> request key),
``state``, ``counter:{name}`` and ``counter-holds:{name}`` (shared counters, see
:mod:`agent_runner.distributed._redis_counters`), ``lease:{name}`` (hash: holder, token;
expires with the lease, by Redis's clock) and ``lease-tokens`` (the counter every lease's
tokens come from, so a token is never reused, also after a lease expired).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from agent_runner.distributed._outbox import TRANSIENT_ERRORS, Outbox
from agent_runner.distributed._redis_counters import RedisCounters
from agent_runner.distributed._redis_owners import JournalOwners, journal_entry
from agent_runner.errors import ConfigurationError, StoreError
from agent_runner.store import (
    CostEntry,
    Fence,
    JournalEntry,
    LeaseInfo,
    MemoryItem,
    ReplyState,
)
from agent_runner.store._base import lease_ttl_ms

_ACCEPT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local seq = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[1], ARGV[1], seq)
redis.call('ZADD', KEYS[2], seq, ARGV[1])
local entry = {seq, ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]}
redis.call('HSET', KEYS[3], ARGV[1], cjson.encode(entry))
if ARGV[5] ~= '' then redis.call('SADD', KEYS[5], ARGV[5]) end
return 1
"""

_PAYMENT = """
local used_by = redis.call('HGET', KEYS[1], ARGV[1])
if not used_by then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
if used_by == ARGV[2] then return 1 end
return 0
"""

# KEYS: lease, token counter; ARGV: holder, ttl (ms). The token, or 0 when held by another.
_LEASE_ACQUIRE = """
local holder = redis.call('HGET', KEYS[1], 'holder')
if holder and holder ~= ARGV[1] then return 0 end
local token
if holder then
  token = tonumber(redis.call('HGET', KEYS[1], 'token'))
else
  token = redis.call('INCR', KEYS[2])
  redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'token', token)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return token
"""

_LEASE_RELEASE = """
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""

_LEASE_HOLDER = """
local held = redis.call('HMGET', KEYS[1], 'holder', 'token')
if not held[1] then return false end
return {held[1], held[2], redis.call('PTTL', KEYS[1])}
"""

# KEYS: lease, hash; ARGV: token, field, value. 1 when written, 0 when the fence is stale.
_FENCED_HSET = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

_REPLY_OPEN = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return false
end
local state = cjson.decode(raw)
if state['ok'] == nil or state['ok'] == cjson.null then
  state['attempts'] = (tonumber(state['attempts']) or 1) + 1
  raw = cjson.encode(state)
  redis.call('HSET', KEYS[1], ARGV[1], raw)
end
return raw
"""

_REPLY_PART = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local state = {}
if raw then state = cjson.decode(raw) end
local parts = state['parts']
if type(parts) ~= 'table' then parts = {} end
parts[ARGV[2]] = ARGV[3]
state['parts'] = parts
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(state))
return 1
"""

_REPLY_RESULT = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local state = {}
if raw then state = cjson.decode(raw) end
local outcome = cjson.decode(ARGV[2])
for field, value in pairs(outcome) do state[field] = value end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(state))
return 1
"""

_SEP = "\x00"
_STORE_ERRORS: tuple[type[Exception], ...] = (RedisError, *TRANSIENT_ERRORS)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore:
    """A :class:`~agent_runner.store.Store` in Redis, shared by many processes.

    Args:
        redis_url: ``redis://`` or ``rediss://`` URL (password and database included).
        prefix: Key prefix; deployments sharing one Redis use different prefixes.
        clock: Time source for ``accepted_at`` (Unix seconds).
        redis_options: Extra keyword arguments for ``redis.asyncio.Redis.from_url``.

    Example::

        store = RedisStore("redis://127.0.0.1:6379/0")
        runtime = AgentRuntime([http], [http], agent, store=store)
    """

    shared = True
    """Shared between processes by design: ``AgentRuntime`` runs single-consumer inputs under
    leases by default on it (:mod:`agent_runner.runner.leadership`)."""

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = "agent-runner",
        clock: Callable[[], float] = time.time,
        redis_options: dict[str, Any] | None = None,
    ) -> None:
        self._url = redis_url
        self._prefix = f"{prefix}:store"
        self._clock = clock
        self._options: dict[str, Any] = {"socket_timeout": 10.0, "socket_connect_timeout": 5.0}
        self._options.update(redis_options or {})
        self._client: redis.Redis | None = None
        self._outbox: Outbox | None = None
        self._owners = JournalOwners(self._call, self._key)

    def _key(self, name: str) -> str:
        return f"{self._prefix}:{name}"

    async def open(self) -> None:
        if self._outbox is not None:
            return
        try:
            self._client = redis.Redis.from_url(self._url, **self._options)
        except ValueError as exc:
            raise ConfigurationError(f"invalid redis_url: {exc}") from exc
        self._outbox = Outbox(self._client)
        self._outbox.start()
        await self._call("PING")

    async def close(self) -> None:
        outbox, client = self._outbox, self._client
        self._outbox = self._client = None
        if outbox is not None:
            await outbox.close()
        if client is not None:
            await client.aclose()

    async def flush(self) -> None:
        if self._outbox is not None:
            await self._outbox.flush()

    async def _call(self, *args: Any) -> Any:
        return (await self._calls(args))[0]

    async def _calls(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Queue commands together (one pipeline, in order) and wait for all of them."""
        if self._outbox is None:
            raise StoreError("RedisStore is not open")
        futures = [self._outbox.call(*args) for args in commands]
        try:
            return list(await asyncio.gather(*futures))
        except _STORE_ERRORS as exc:
            raise StoreError(f"redis store: {commands[0][0]} failed: {exc}") from exc

    # -- journal -------------------------------------------------------------------
    async def journal_accept(
        self, key: str, conversation_key: str, payload: str, *, owner: str = ""
    ) -> bool:
        keys = [self._key(n) for n in ("journal", "pending", "entries", "seq", "owners")]
        added = await self._call(
            "EVAL", _ACCEPT, 5, *keys, key, conversation_key, payload, repr(self._clock()), owner
        )
        return bool(added)

    async def journal_complete(self, key: str, *, owner: str = "") -> None:
        """Mark ``key`` handled (its owner is in its entry, dropped with it)."""
        await self._calls(("ZREM", self._key("pending"), key), ("HDEL", self._key("entries"), key))

    async def journal_pending(self) -> list[JournalEntry]:
        keys = await self._call("ZRANGE", self._key("pending"), 0, -1)
        if not keys:
            return []
        raws = await self._call("HMGET", self._key("entries"), *keys)
        out: list[JournalEntry] = []
        for key, raw in zip(keys, raws, strict=True):
            if raw is not None:
                out.append(journal_entry(key, raw))
        return out

    async def journal_owners(self) -> list[str]:
        return await self._owners.owners()

    async def journal_adopt(
        self, owner: str, *, by: str, fence: Fence, sources: Collection[str]
    ) -> list[JournalEntry]:
        return await self._owners.adopt(owner, by=by, fence=fence, sources=sources)

    # -- replies ---------------------------------------------------------------------
    async def reply_claim(self, key: str, output: str) -> bool:
        claimed = json.dumps({"claimed_at": self._clock(), "ok": None, "error": None})
        return bool(await self._call("HSETNX", self._key("replies"), output + _SEP + key, claimed))

    async def reply_open(self, key: str, output: str) -> ReplyState:
        claimed = json.dumps({"claimed_at": self._clock(), "ok": None, "attempts": 1})
        raw = await self._call(
            "EVAL", _REPLY_OPEN, 1, self._key("replies"), output + _SEP + key, claimed
        )
        if raw is None:
            return ReplyState(attempt=1)
        state = json.loads(raw)
        parts = state.get("parts") or {}
        return ReplyState(
            attempt=int(state.get("attempts", 1)),
            ok=state.get("ok"),
            error=state.get("error"),
            parts={int(part): str(ref) for part, ref in parts.items()},
        )

    async def reply_part(self, key: str, output: str, part: int, ref: str) -> None:
        await self._call(
            "EVAL", _REPLY_PART, 1, self._key("replies"), output + _SEP + key, str(part), ref
        )

    async def reply_result(
        self, key: str, output: str, *, ok: bool, error: str | None = None
    ) -> None:
        outcome = json.dumps({"at": self._clock(), "ok": ok, "error": error})
        field = output + _SEP + key  # merged: the attempts and parts stay in the ledger
        await self._call("EVAL", _REPLY_RESULT, 1, self._key("replies"), field, outcome)

    # -- cursors ---------------------------------------------------------------------
    async def cursor_get(self, name: str) -> str | None:
        value = await self._call("HGET", self._key("cursors"), name)
        return None if value is None else _text(value)

    async def cursor_set(self, name: str, value: str, *, fence: Fence | None = None) -> None:
        if fence is None:
            await self._call("HSET", self._key("cursors"), name, value)
            return
        keys = (self._key(f"lease:{fence.lease}"), self._key("cursors"))
        if not await self._call("EVAL", _FENCED_HSET, 2, *keys, fence.token, name, value):
            raise fence.refused()

    # -- conversation memory ---------------------------------------------------------
    async def memory_load(self, conversation_key: str, limit: int) -> list[MemoryItem]:
        if limit <= 0:
            return []
        raws = await self._call("LRANGE", self._key(f"mem:{conversation_key}"), -limit, -1)
        return [MemoryItem(**json.loads(raw)) for raw in raws]

    async def memory_append(
        self, conversation_key: str, items: Sequence[MemoryItem], *, keep: int
    ) -> None:
        key = self._key(f"mem:{conversation_key}")
        commands: list[tuple[Any, ...]] = []
        if items:
            encoded = [json.dumps(dataclasses.asdict(i), separators=(",", ":")) for i in items]
            commands.append(("RPUSH", key, *encoded))
        commands.append(("DEL", key) if keep <= 0 else ("LTRIM", key, -keep, -1))
        await self._calls(*commands)

    # -- cost ledger -----------------------------------------------------------------
    async def cost_add(self, entry: CostEntry) -> None:
        sums = self._key("cost:sum")
        conv, day, amount = entry.conversation_key, entry.day, repr(entry.cost)
        fields = ("all", f"c{_SEP}{conv}", f"d{_SEP}{day}", f"cd{_SEP}{conv}{_SEP}{day}")
        await self._calls(
            ("RPUSH", self._key("costs"), json.dumps(dataclasses.asdict(entry))),
            *(("HINCRBYFLOAT", sums, field, amount) for field in fields),
        )

    async def cost_sum(
        self, *, conversation_key: str | None = None, day: str | None = None
    ) -> float:
        if conversation_key is not None and day is not None:
            field = f"cd{_SEP}{conversation_key}{_SEP}{day}"
        elif conversation_key is not None:
            field = f"c{_SEP}{conversation_key}"
        elif day is not None:
            field = f"d{_SEP}{day}"
        else:
            field = "all"
        value = await self._call("HGET", self._key("cost:sum"), field)
        return 0.0 if value is None else float(value)

    # -- payments --------------------------------------------------------------------
    async def payment_use(self, reference: str, *, key: str) -> bool:
        return bool(await self._call("EVAL", _PAYMENT, 1, self._key("payments"), reference, key))

    # -- key-value state -------------------------------------------------------------
    async def state_get(self, key: str) -> str | None:
        value = await self._call("HGET", self._key("state"), key)
        return None if value is None else _text(value)

    async def state_set(self, key: str, value: str) -> None:
        await self._call("HSET", self._key("state"), key, value)

    async def state_delete(self, key: str) -> None:
        await self._call("HDEL", self._key("state"), key)

    # -- leases ----------------------------------------------------------------------
    async def lease_acquire(self, name: str, holder: str, ttl: float) -> int | None:
        """Take or renew lease ``name`` (one Lua script; expiry by Redis's clock)."""
        keys = (self._key(f"lease:{name}"), self._key("lease-tokens"))
        token = await self._call("EVAL", _LEASE_ACQUIRE, 2, *keys, holder, lease_ttl_ms(ttl))
        return int(token) or None

    async def lease_release(self, name: str, holder: str) -> None:
        await self._call("EVAL", _LEASE_RELEASE, 1, self._key(f"lease:{name}"), holder)

    async def lease_holder(self, name: str) -> LeaseInfo | None:
        held = await self._call("EVAL", _LEASE_HOLDER, 1, self._key(f"lease:{name}"))
        if not held:
            return None
        holder, token, ttl_ms = held
        return LeaseInfo(_text(holder), int(token), self._clock() + int(ttl_ms) / 1000)

    # -- shared counters -------------------------------------------------------------
    def counters(self) -> RedisCounters:
        """Shared counters in this Redis: limits exact across every process sharing it."""
        return RedisCounters(self._call, self._key)
