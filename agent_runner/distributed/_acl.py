"""Redis ACL rules for a locked-down deployment: each worker acts only for its agent types.

:func:`acl_rules` gives the rules of one Redis user (``ACL SETUSER name on >pw <rules>``, or
a line ``user name on #<sha256> <rules>`` of an ACL file; Redis >= 7, selectors). A worker
hosting types H that may send to types S:

- reads, claims and acknowledges only the inbox streams of H, and keeps the leases, member
  sets, saved states and positions of H (full access to those keys only);
- may only ``XADD`` (no read) to the inboxes of S (requests, cancels, published events);
- may only ``XADD`` to other runtimes' reply and control streams (replies, wake-ups), and
  reads only its own;
- reads and adds to the shared type table and subscriptions (a deployment's configuration);
- runs only the commands the runtime uses (no ``KEYS``, ``CONFIG``, ``FLUSHALL``, ...).

So a worker cannot read the requests, states or replies meant for types it does not host,
nor take their partitions; a reply it forges would need a request id it never saw (ids are
random, see :class:`DistributedAgentRuntime`). docs/concepts/distributed.md, "Locked-down
deployment", lists the users of a deployment and the TLS settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from agent_runner.core import AccessPolicy
from agent_runner.distributed._wire import Keys

COMMANDS = (
    # connection set-up (redis-py: HELLO/AUTH, CLIENT SETNAME; it ignores a refused CLIENT SETINFO)
    "+hello +auth +ping +select +client|setname +time "
    # streams: inboxes and own reply/control streams
    "+xadd +xreadgroup +xread +xack +xautoclaim +xclaim +xpending +xtrim +xlen +xrange "
    "+xgroup|create +xgroup|createconsumer +xgroup|delconsumer +xinfo|groups "
    "+xinfo|consumers +xinfo|stream "
    # leases, membership, worker info, types, subscriptions, states, positions
    "+get +set +del +pexpire +mget +exists +incr +zadd +zrange +zrem +zremrangebyscore "
    "+hget +hmget +hgetall +hset +hsetnx +hdel +hexists +multi +exec +discard "
    # the runtime's Lua scripts (every command inside is checked against these rules too)
    "+eval +evalsha +script|load"
)
"""The commands a worker runs, as ACL rules."""


def _glob(text: str) -> str:
    """``text`` with Redis glob characters escaped (agent types and ids are literal)."""
    return re.sub(r"([\\*?\[\]])", r"\\\1", text)


def acl_rules(
    *,
    worker_id: str,
    hosts: Iterable[str] = (),
    sends_to: Iterable[str] = (),
    policy: AccessPolicy | None = None,
    prefix: str = "agent-runner",
) -> str:
    """The ACL rules of the Redis user of a worker (or of a caller that hosts nothing).

    Args:
        worker_id: The runtime's ``worker_id`` (pass the same to DistributedAgentRuntime);
            a trailing ``*`` makes it a pattern, for several processes sharing one user.
        hosts: The agent types this worker registers.
        sends_to: The agent types its agents (or its callers) send to or publish events to
            (their subscribers' types).
        policy: Add the types the policy lets the hosted types (or, hosting nothing, callers
            outside any agent) send to; ValueError when it lets one send anywhere.
        prefix: The deployment's key prefix.

    Example::

        rules = acl_rules(worker_id="billing-1", hosts=["billing"], sends_to=["ledger"])
        await admin.execute_command("ACL", "SETUSER", "billing", "on", ">secret", *rules.split())
        runtime = DistributedAgentRuntime(
            "rediss://billing:secret@redis:6380/0", worker_id="billing-1"
        )
    """
    keys = Keys(prefix)
    hosted = sorted(set(hosts))
    wanted = set(sends_to) | set(hosted)
    if policy is not None:
        senders: list[str | None] = [*hosted] if hosted else [None]
        for sender in senders:
            allowed = policy.send_targets(sender)
            if allowed is None:
                raise ValueError(
                    f"the access policy lets {sender or 'callers outside any agent'} send to "
                    "any type: list the types in sends_to instead"
                )
            wanted |= allowed
    targets = sorted(wanted)
    p = _glob(prefix)
    worker = worker_id[:-1] if worker_id.endswith("*") else worker_id
    me = _glob(worker) + ("*" if worker_id.endswith("*") else "")
    own = [f"~{p}:worker:{me}", f"~{p}:reply:{me}", f"~{p}:ctl:{me}"]
    own += [f"~{_glob(keys.types)}", f"~{_glob(keys.subscriptions)}"]
    own += [f"~{_glob(keys.subscriptions_version)}"]
    for name in hosted:
        t = _glob(name)
        own += [f"~{p}:in:{t}:*", f"~{p}:members:{t}", f"~{p}:lease:{t}:*"]
        own += [f"~{p}:state:{t}", f"~{p}:seen:{t}"]
    send = [f"~{p}:in:{_glob(name)}:*" for name in targets]
    send.append(f"~{_glob(keys.subscriptions_version)}")
    rules = ["resetkeys", "resetchannels", "-@all", COMMANDS, *own]
    rules.append(f"({' '.join(send)} +xadd +eval +evalsha)")
    rules.append(f"(~{p}:reply:* ~{p}:ctl:* +xadd)")
    return " ".join(rules)


__all__ = ["COMMANDS", "acl_rules"]
