"""The wire format: Redis key and stream names, envelope headers, key placement hashes.

Everything here is language-neutral and written down in ``docs/concepts/distributed.md``: a
worker in another language that follows these names and JSON headers joins a deployment as an
equal.

One stream entry is one message, with two fields: ``h``, the JSON header (:class:`Header`),
and ``d``, the payload bytes as produced by the payload's serializer (for
``application/json``, UTF-8 JSON text).
"""

from __future__ import annotations

import functools
import hashlib
import json
import json.encoder as json_encoder
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypedDict

PROTOCOL_VERSION: Final = 1
GROUP: Final = "agent-runner"
"""The consumer group every worker reads inbox and control streams with."""
JSON_CONTENT_TYPE: Final = "application/json"

# Header kinds.
RPC: Final = "rpc"
EVENT: Final = "event"
CANCEL: Final = "cancel"
REPLY: Final = "reply"
ERROR: Final = "error"
SAVE_STATE: Final = "save_state"
LOAD_STATE: Final = "load_state"
METADATA: Final = "metadata"
WAKE: Final = "wake"
REQUEST_KINDS: Final = frozenset({RPC, SAVE_STATE, LOAD_STATE, METADATA})
"""Kinds that expect exactly one ``reply`` or ``error`` on ``reply_to``."""


class ErrorInfo(TypedDict):
    type: str
    module: str
    message: str


class Header(TypedDict, total=False):
    """The JSON header of a stream entry (field ``h``). See docs/concepts/distributed.md."""

    v: int
    kind: str
    id: str
    """The message id (``MessageContext.message_id``)."""
    rid: str
    """Request id: correlates an ``rpc`` with its ``reply``/``error`` and ``cancel``."""
    to: str
    """Recipient ``type/key``."""
    sender: str | None
    topic: list[str] | None
    """``[topic_type, topic_source]`` for events."""
    reply_to: str
    type: str
    """Payload type name (``MessageSerializer.type_name``)."""
    ct: str
    """Payload content type."""
    worker: str
    """The worker that handled the request (replies and errors)."""
    chain: list[str]
    """RPCs: the agents (``type/key``) waiting in the caller's call chain, outermost first."""
    error: ErrorInfo
    traceparent: str
    """Optional W3C trace context of the sender (rpc, event): the handler joins its trace."""
    tracestate: str


def _header_encoder() -> Callable[[Header], str]:
    """Compact JSON (``separators=(",", ":")``, ``ensure_ascii=False``) of a header, with one
    encoder made once: ``json.dumps`` with options builds one per call (about half the cost
    of a header)."""
    make: Any = getattr(json_encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the pure-Python encoder
        return json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    # No markers: headers are our own acyclic dicts.
    encode = make(
        None, _not_json, json_encoder.encode_basestring, None, ":", ",", False, False, True
    )
    return lambda header: "".join(encode(header, 0))


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


_encode_header = _header_encoder()


def dump_header(header: Header) -> bytes:
    """Encode a header as compact UTF-8 JSON."""
    return _encode_header(header).encode()


def load_header(raw: bytes | str) -> Header:
    """Decode a header. Raises ``ValueError`` when it is not a JSON object with a ``kind``."""
    # From str: json.loads would first guess the encoding of bytes (UTF-8 per the protocol).
    value = json.loads(raw.decode() if raw.__class__ is bytes else raw)
    if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
        raise ValueError("stream entry header is not a JSON object with a 'kind'")
    header: Header = value  # type: ignore[assignment]
    return header


@dataclass(frozen=True, slots=True)
class Keys:
    """Every Redis key a deployment uses, under one ``prefix``."""

    prefix: str

    def inbox(self, agent_type: str, partition: int) -> str:
        """The stream of messages for the keys of ``agent_type`` that hash to ``partition``."""
        return f"{self.prefix}:in:{agent_type}:{partition}"

    def replies(self, worker: str) -> str:
        """The stream a runtime reads its RPC replies from (plain ``XREAD``)."""
        return f"{self.prefix}:reply:{worker}"

    def control(self, worker: str) -> str:
        """A worker's control stream (wake-ups, rebalance requests)."""
        return f"{self.prefix}:ctl:{worker}"

    def worker(self, worker: str) -> str:
        """A worker's heartbeat key (JSON info, expires after the heartbeat TTL)."""
        return f"{self.prefix}:worker:{worker}"

    def members(self, agent_type: str) -> str:
        """Sorted set of the workers hosting ``agent_type``; score = heartbeat expiry (ms)."""
        return f"{self.prefix}:members:{agent_type}"

    def lease(self, agent_type: str, partition: int) -> str:
        """Which worker owns a partition (value = worker id, with a TTL)."""
        return f"{self.prefix}:lease:{agent_type}:{partition}"

    @property
    def types(self) -> str:
        """Hash: agent type -> number of partitions (set once, never changed)."""
        return f"{self.prefix}:types"

    @property
    def subscriptions(self) -> str:
        """Hash: subscription id -> JSON subscription."""
        return f"{self.prefix}:subs"

    @property
    def subscriptions_version(self) -> str:
        """Counter incremented on every subscription change."""
        return f"{self.prefix}:subs:version"

    def seen(self, agent_type: str) -> str:
        """Hash: agent key -> position of its last handled message (``ms-seq:index``)."""
        return f"{self.prefix}:seen:{agent_type}"

    def state(self, agent_type: str) -> str:
        """Hash: agent key -> the agent's last saved state (JSON)."""
        return f"{self.prefix}:state:{agent_type}"


def _hash(text: str, size: int) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:size], "big")


def partition_of(key: str, partitions: int) -> int:
    """The partition of an agent key: first 4 bytes of SHA-1(key) (big-endian) mod partitions.

    >>> partition_of("default", 16)
    10
    """
    return _key_hash(key) % partitions


@functools.lru_cache(maxsize=8192)
def _key_hash(key: str) -> int:
    """A caller sends to the same keys again and again: their SHA-1 is kept (in C, bounded)."""
    return _hash(key, 4)


def rendezvous_score(worker: str, agent_type: str, partition: int) -> int:
    """Rendezvous (highest random weight) score: first 8 bytes of SHA-1("worker/type/p")."""
    return _hash(f"{worker}/{agent_type}/{partition}", 8)


def owner_of(workers: Iterable[str], agent_type: str, partition: int) -> str | None:
    """The live worker that should own ``partition`` of ``agent_type`` (None if none)."""
    best: tuple[int, str] | None = None
    for worker in workers:
        candidate = (rendezvous_score(worker, agent_type, partition), worker)
        if best is None or candidate > best:
            best = candidate
    return None if best is None else best[1]


def assigned_partitions(
    workers: Iterable[str], agent_type: str, partitions: int, me: str
) -> frozenset[int]:
    """The partitions of ``agent_type`` that rendezvous hashing gives to ``me``."""
    live = sorted(set(workers) | {me})
    return frozenset(p for p in range(partitions) if owner_of(live, agent_type, p) == me)


def split_agent_id(text: str) -> tuple[str, str]:
    """``"type/key"`` -> ``("type", "key")``; the key may contain ``/``."""
    agent_type, sep, key = text.partition("/")
    if not sep or not agent_type:
        raise ValueError(f"not an agent id 'type/key': {text!r}")
    return agent_type, key


def error_info(exc: BaseException) -> ErrorInfo:
    """The ``error`` object of an error reply for an exception.

    An error that itself came from a remote handler keeps its original type and message.
    """
    remote_type = getattr(exc, "remote_type", None)
    if isinstance(remote_type, str) and remote_type:
        return {
            "type": remote_type,
            "module": str(getattr(exc, "remote_module", "")),
            "message": str(getattr(exc, "remote_message", "")),
        }
    cls = type(exc)
    return {"type": cls.__qualname__, "module": cls.__module__, "message": str(exc)}


Entry = tuple[bytes, dict[bytes, bytes]]


def stream_entries(response: Any) -> list[tuple[bytes, list[Entry]]]:
    """``[(stream, [(entry_id, fields), ...]), ...]`` from an XREAD/XREADGROUP reply.

    Accepts redis-py's RESP2 list form and its RESP3 dict form.
    """
    if not response:
        return []
    items = response.items() if isinstance(response, dict) else response
    out: list[tuple[bytes, list[Entry]]] = []
    for stream, entries in items:
        if (
            entries
            and isinstance(entries[0], list)
            and entries[0]
            and isinstance(entries[0][0], list | tuple)
        ):
            entries = entries[0]
        out.append((stream, list(entries)))
    return out


def entry_messages(fields: Mapping[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    """The ``(header, payload)`` pairs of a stream entry: ``h``/``d``, then ``h1``/``d1``,
    ``h2``/``d2``... (a writer may put several messages for one stream in one entry)."""
    first = fields.get(b"h")
    if first is None:
        return []
    out = [(first, fields.get(b"d", b""))]
    n = 1
    while True:
        header = fields.get(b"h%d" % n)
        if header is None:
            return out
        out.append((header, fields.get(b"d%d" % n, b"")))
        n += 1


def fields(header: Header, data: bytes) -> Mapping[str, Any]:
    """The stream entry for a header and payload."""
    return {"h": dump_header(header), "d": data}
