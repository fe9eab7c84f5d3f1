"""A locked-down deployment on a real redis-server: ACL users from ``acl_rules`` and TLS
with client certificates (made at test time). Each worker acts only for its own types."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError

from agent_runner.core import (
    AccessPolicy,
    AgentId,
    ClosureAgent,
    TopicId,
    TypeSubscription,
    try_get_known_serializers_for_type,
)
from agent_runner.distributed import DistributedAgentRuntime, acl_rules
from tests.core.contract_support import Note, collector, drain
from tests.distributed._servers import RedisServer, free_port
from tests.distributed._tls import Certificates, make_certificates
from tests.distributed._workers import Workers, lease_holders, wait_for
from tests.distributed.agents import Add, Counter, Total

PREFIX = "locked"
ADMIN_PASSWORD = "admin-pw"
USERS = {
    # a worker hosting "counter" and "notes" that may send nowhere
    "counter": (
        "counter-pw",
        acl_rules(prefix=PREFIX, worker_id="w-counter", hosts=["counter", "notes"]),
    ),
    # a worker hosting "vault" (whose streams the counter worker must not read)
    "vault": ("vault-pw", acl_rules(prefix=PREFIX, worker_id="w-vault", hosts=["vault"])),
    # the worker process of tests.distributed.agents (agent-runner worker ...)
    "proc": (
        "proc-pw",
        acl_rules(prefix=PREFIX, worker_id="w-proc", hosts=["counter", "listener"]),
    ),
    # a caller hosting nothing that may send to "counter" and publish to "notes"' topics
    "caller": (
        "caller-pw",
        acl_rules(prefix=PREFIX, worker_id="caller", sends_to=["counter", "notes"]),
    ),
}


class LockedServer:
    def __init__(self, server: RedisServer, tls_port: int, certs: Certificates) -> None:
        self.server = server
        self.tls_port = tls_port
        self.certs = certs

    def url(self, user: str, *, client_cert: bool = True) -> str:
        """The rediss:// URL of ``user``, with the CA and (by default) the client cert."""
        params = {"ssl_ca_certs": str(self.certs.ca)}
        if client_cert:
            params["ssl_certfile"] = str(self.certs.client_cert)
            params["ssl_keyfile"] = str(self.certs.client_key)
        password = ADMIN_PASSWORD if user == "default" else USERS[user][0]
        return f"rediss://{quote(user)}:{quote(password)}@127.0.0.1:{self.tls_port}/0?" + urlencode(
            params
        )


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LockedServer]:
    directory = tmp_path_factory.mktemp("locked")
    certs = make_certificates(directory)
    lines = [f"user default on #{hashlib.sha256(ADMIN_PASSWORD.encode()).hexdigest()} ~* &* +@all"]
    for name, (password, rules) in USERS.items():
        digest = hashlib.sha256(password.encode()).hexdigest()
        lines.append(f"user {name} on #{digest} {rules}")
    acl_file = directory / "users.acl"
    acl_file.write_text("\n".join(lines) + "\n")
    tls_port = free_port()
    server = RedisServer(
        password=ADMIN_PASSWORD,
        acl_file=acl_file,
        extra=[
            "--tls-port", str(tls_port),
            "--tls-cert-file", str(certs.server_cert),
            "--tls-key-file", str(certs.server_key),
            "--tls-ca-cert-file", str(certs.ca),
            "--tls-auth-clients", "yes",
        ],
    )  # fmt: skip
    server.start()  # the plain port (loopback) answers the fixture's PING only
    try:
        yield LockedServer(server, tls_port, certs)
    finally:
        server.cleanup()


@pytest.fixture
async def as_counter(locked: LockedServer) -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(locked.url("counter"))
    yield client
    await client.aclose()


async def test_a_worker_and_a_caller_with_their_own_users_over_tls(locked: LockedServer) -> None:
    fast = {"heartbeat_interval": 0.1, "heartbeat_ttl": 2.0, "partitions": 2}
    worker = DistributedAgentRuntime(
        locked.url("counter"), prefix=PREFIX, worker_id="w-counter", **fast
    )
    caller = DistributedAgentRuntime(
        locked.url("caller"), prefix=PREFIX, worker_id="caller", **fast
    )
    for cls in (Total, Note):
        caller.add_message_serializer(try_get_known_serializers_for_type(cls))
    notes: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    admin = redis.Redis.from_url(locked.url("default"))
    try:
        await Counter.register(worker, "counter", Counter)
        await ClosureAgent.register_closure(worker, "notes", collector(notes))
        await worker.add_subscription(TypeSubscription("news", "notes"))
        worker.start()

        async def owned() -> bool:
            return set(await lease_holders(admin, PREFIX, "counter", 2)) == {"w-counter"}

        await wait_for(owned, what="w-counter owns counter's partitions")
        for n in (1, 2, 3):
            reply = await caller.send_message(Add(n), AgentId("counter", "k"))
        assert reply == Total("k", 6, "w-counter")
        assert await worker.agent_save_state(AgentId("counter", "k")) == {"total": 6}
        await caller.publish_message(Note("hello"), TopicId("news", "s"))
        assert await drain(notes, 1) == [("notes/s", Note("hello"))]
        await caller.close()
        await worker.close()  # releases its leases, leaves the member sets, deletes its streams
        denied = await admin.acl_log()
        assert denied == [], f"the runtime needed more than acl_rules gives: {denied}"
    finally:
        await caller.close()
        await worker.close()
        await admin.aclose()


async def test_a_worker_process_started_with_a_rediss_url(locked: LockedServer) -> None:
    """`agent-runner worker` with the documented REDIS_URL (user, CA, client certificate)."""
    workers = Workers(locked.url("proc"), PREFIX, record=False)
    caller = DistributedAgentRuntime(locked.url("caller"), prefix=PREFIX, worker_id="caller")
    caller.add_message_serializer(try_get_known_serializers_for_type(Total))
    admin = redis.Redis.from_url(locked.url("default"))
    try:
        await admin.acl_log_reset()
        workers.start("w-proc", partitions=2)

        async def owned() -> bool:
            return set(await lease_holders(admin, PREFIX, "counter", 2)) == {"w-proc"}

        await wait_for(owned, what=f"w-proc owns counter's partitions\n{workers.logs()}")
        reply = await caller.send_message(Add(5), AgentId("counter", "p"))
        assert reply == Total("p", 5, "w-proc")
        assert workers.terminate("w-proc") == 0, workers.logs()
        denied = await admin.acl_log()
        assert denied == [], f"the worker needed more than acl_rules gives: {denied}"
    finally:
        await caller.close()
        workers.close()
        await admin.aclose()


@pytest.mark.parametrize(
    "command",
    [
        ("XRANGE", f"{PREFIX}:in:vault:0", "-", "+"),  # another type's requests
        (
            "XREADGROUP",
            "GROUP",
            "agent-runner",
            "w-counter",
            "STREAMS",
            f"{PREFIX}:in:vault:0",
            ">",
        ),
        ("XACK", f"{PREFIX}:in:vault:0", "agent-runner", "0-1"),
        ("HGETALL", f"{PREFIX}:state:vault"),  # another type's saved states
        ("SET", f"{PREFIX}:lease:vault:0", "w-counter"),  # taking another type's partition
        ("XADD", f"{PREFIX}:in:vault:0", "*", "h", "{}", "d", ""),  # not in sends_to
        ("XREAD", "STREAMS", f"{PREFIX}:reply:caller", "0-0"),  # another runtime's replies
        ("XRANGE", f"{PREFIX}:reply:caller", "-", "+"),
        ("KEYS", "*"),
        ("FLUSHALL",),
        ("CONFIG", "GET", "*"),
        ("EVAL", "return redis.call('XRANGE', KEYS[1], '-', '+')", 1, f"{PREFIX}:in:vault:0"),
    ],
    ids=lambda c: " ".join(map(str, c[:2])),
)
async def test_a_worker_cannot_act_for_types_it_does_not_host(
    as_counter: redis.Redis, command: tuple[object, ...]
) -> None:
    with pytest.raises(NoPermissionError):
        await as_counter.execute_command(*command)


async def test_what_a_worker_may_write_elsewhere(as_counter: redis.Redis) -> None:
    """Replies to any caller's reply stream (write only), its own streams in full."""
    await as_counter.xadd(f"{PREFIX}:reply:caller", {"h": "{}", "d": ""})
    await as_counter.xadd(f"{PREFIX}:in:counter:0", {"h": "{}", "d": ""})
    assert await as_counter.xlen(f"{PREFIX}:in:counter:0") >= 1
    with pytest.raises(NoPermissionError):
        await as_counter.xlen(f"{PREFIX}:reply:caller")


async def test_tls_needs_the_client_certificate(locked: LockedServer) -> None:
    client = redis.Redis.from_url(locked.url("counter", client_cert=False))
    try:
        with pytest.raises(RedisConnectionError):
            await client.ping()
    finally:
        await client.aclose()
    plain = redis.Redis.from_url(f"redis://counter:counter-pw@127.0.0.1:{locked.tls_port}/0")
    try:
        with pytest.raises(RedisConnectionError):  # no plain text on the TLS port
            await plain.ping()
    finally:
        await plain.aclose()


def test_acl_rules_escape_glob_characters() -> None:
    rules = acl_rules(prefix="p", worker_id="w*", hosts=["a?b"], sends_to=["c[1]"])
    assert "~p:in:a\\?b:*" in rules and "~p:in:c\\[1\\]:*" in rules
    assert "~p:reply:w*" in rules  # a trailing * is a pattern of worker ids


def test_acl_rules_take_the_send_targets_from_an_access_policy() -> None:
    policy = AccessPolicy(sends={"planner": {"coder"}, "coder": set(), None: {"planner"}})
    rules = acl_rules(worker_id="w", hosts=["planner"], sends_to=["notes"], policy=policy)
    assert "(~agent-runner:in:coder:* ~agent-runner:in:notes:* ~agent-runner:in:planner:*" in rules
    caller = acl_rules(worker_id="runner", policy=policy)
    assert "(~agent-runner:in:planner:* ~agent-runner:subs:version +xadd" in caller
    with pytest.raises(ValueError, match="send to any type"):
        acl_rules(worker_id="w", hosts=["unlisted"], policy=policy)
