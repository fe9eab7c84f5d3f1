"""The owners of RedisStore's pending journal entries (:class:`~agent_runner.store.OwnedJournal`).

Keys (under the store's prefix): ``owned:{owner}`` (set: the pending keys each replica
journaled or adopted; ``owned:`` for entries journaled with no owner), ``owners`` (set: the
owners that may have pending keys) and ``owners-since`` (set once, when the first store of a
version that records owners opened this journal). ``journal_accept`` adds a key to its
owner's set and ``journal_complete`` removes it (``RedisStore``); adopting moves a dead
owner's keys to the adopter in one Lua script, so each entry is adopted at most once.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from agent_runner.store import Fence, JournalEntry, replica_lease

Call = Callable[..., Awaitable[Any]]
Key = Callable[[str], str]

# KEYS: owned:<owner>, owned:<by>, owners, entries, lease:replica:<owner>, the fence's lease;
# ARGV: fence token, owner, then the sources. The adopted keys and entries (key, raw, ...),
# or false when the fence no longer holds.
_ADOPT = """
if redis.call('HGET', KEYS[6], 'token') ~= ARGV[1] then return false end
if redis.call('EXISTS', KEYS[5]) == 1 then return {} end
local sources = {}
for i = 3, #ARGV do sources[ARGV[i]] = true end
local out, left = {}, 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local raw = redis.call('HGET', KEYS[4], key)
  if not raw then
    redis.call('SREM', KEYS[1], key)
  elseif sources[string.match(key, '^[^:]*')] then
    redis.call('SMOVE', KEYS[1], KEYS[2], key)
    out[#out + 1] = key
    out[#out + 1] = raw
  else
    left = left + 1
  end
end
if left == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
return out
"""

# KEYS: the marker, pending, owned: (no owner). Once per store: entries journaled before
# owners were recorded (an older version) become the no-owner's, recovered at a start.
_SINCE = """
if redis.call('SETNX', KEYS[1], ARGV[1]) == 0 then return 0 end
for _, key in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do redis.call('SADD', KEYS[3], key) end
return 1
"""


def journal_entry(key: Any, raw: Any) -> JournalEntry:
    """A journal entry from its key and its JSON in the store's ``entries`` hash."""
    seq, conversation_key, payload, accepted_at = json.loads(raw)
    return JournalEntry(
        seq=int(seq),
        key=key.decode() if isinstance(key, bytes) else str(key),
        conversation_key=conversation_key,
        payload=payload,
        accepted_at=float(accepted_at),
    )


class JournalOwners:
    """The owner half of RedisStore's journal.

    Args:
        call: runs one Redis command through the store's pipeline.
        key: the store's key for a name.
    """

    def __init__(self, call: Call, key: Key) -> None:
        self._call, self._key = call, key

    async def since(self, now: float) -> None:
        """Give entries journaled before owners were recorded to the no-owner (once)."""
        keys = (self._key("owners-since"), self._key("pending"), self._key("owned:"))
        await self._call("EVAL", _SINCE, 3, *keys, repr(now))

    async def owners(self) -> list[str]:
        raw = await self._call("SMEMBERS", self._key("owners"))
        return sorted(o.decode() if isinstance(o, bytes) else str(o) for o in raw)

    async def adopt(
        self, owner: str, *, by: str, fence: Fence, sources: Collection[str]
    ) -> list[JournalEntry]:
        keys = (
            self._key(f"owned:{owner}"),
            self._key(f"owned:{by}"),
            self._key("owners"),
            self._key("entries"),
            self._key(f"lease:{replica_lease(owner)}"),
            self._key(f"lease:{fence.lease}"),
        )
        moved = await self._call("EVAL", _ADOPT, 6, *keys, fence.token, owner, *sources)
        if moved is None:
            raise fence.refused()
        pairs = zip(moved[::2], moved[1::2], strict=True)
        return sorted((journal_entry(key, raw) for key, raw in pairs), key=lambda e: e.seq)


__all__ = ["JournalOwners", "journal_entry"]
