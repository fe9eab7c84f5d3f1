"""The owners of RedisStore's pending journal entries (:class:`~agent_runner.store.OwnedJournal`).

Each pending entry in the store's ``entries`` hash is a JSON array ``[seq, conversation key,
payload, accepted at, owner]``: the owner is written with the entry by ``journal_accept``
and dropped with it by ``journal_complete``, so recording owners costs the hot path nothing
but one ``SADD`` to ``owners`` (the set of replicas that journaled entries; an entry
journaled before owners were recorded has four elements and is the no-owner's, ``""``).

Adopting a dead owner's entries is one Lua script: it checks the adopter's fence and the
owner's replica lease, then rewrites the owner of each of its entries. It reads every pending
entry (HGETALL), which a failover can afford: it runs only for an owner whose lease is gone.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from agent_runner.store import Fence, JournalEntry, replica_lease

Call = Callable[..., Awaitable[Any]]
Key = Callable[[str], str]

# KEYS: entries, owners, lease:replica:<owner>, the fence's lease; ARGV: fence token, owner,
# by, then the sources. The adopted entries (key, raw, ...), or false when the fence no longer
# holds.
_ADOPT = """
if redis.call('HGET', KEYS[4], 'token') ~= ARGV[1] then return false end
if redis.call('EXISTS', KEYS[3]) == 1 then return {} end
local sources = {}
for i = 4, #ARGV do sources[ARGV[i]] = true end
local all = redis.call('HGETALL', KEYS[1])
local out, left = {}, 0
for i = 1, #all, 2 do
  local key, entry = all[i], cjson.decode(all[i + 1])
  if (entry[5] or '') == ARGV[2] then
    if sources[string.match(key, '^[^:]*')] then
      entry[5] = ARGV[3]
      local raw = cjson.encode(entry)
      redis.call('HSET', KEYS[1], key, raw)
      out[#out + 1] = key
      out[#out + 1] = raw
    else
      left = left + 1
    end
  end
end
if left == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
if #out > 0 and ARGV[3] ~= '' then redis.call('SADD', KEYS[2], ARGV[3]) end
return out
"""


def journal_entry(key: Any, raw: Any) -> JournalEntry:
    """A journal entry from its key and its JSON in the store's ``entries`` hash."""
    seq, conversation_key, payload, accepted_at, *_ = json.loads(raw)
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

    async def owners(self) -> list[str]:
        raw = await self._call("SMEMBERS", self._key("owners"))
        return sorted(o.decode() if isinstance(o, bytes) else str(o) for o in raw)

    async def adopt(
        self, owner: str, *, by: str, fence: Fence, sources: Collection[str]
    ) -> list[JournalEntry]:
        keys = (
            self._key("entries"),
            self._key("owners"),
            self._key(f"lease:{replica_lease(owner)}"),
            self._key(f"lease:{fence.lease}"),
        )
        moved = await self._call("EVAL", _ADOPT, 4, *keys, fence.token, owner, by, *sources)
        if moved is None:
            raise fence.refused()
        pairs = zip(moved[::2], moved[1::2], strict=True)
        return sorted((journal_entry(key, raw) for key, raw in pairs), key=lambda e: e.seq)


__all__ = ["JournalOwners", "journal_entry"]
