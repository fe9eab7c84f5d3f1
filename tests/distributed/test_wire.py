"""Pure parts of the distributed runtime: placement hashes, error envelopes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_runner.distributed._distributed_errors import RemoteError, remote_exception
from agent_runner.distributed._outbox import MAX_MESSAGES_PER_ENTRY, merge_xadds
from agent_runner.distributed._wire import (
    Keys,
    assigned_partitions,
    dump_header,
    entry_messages,
    error_info,
    load_header,
    owner_of,
    partition_of,
    split_agent_id,
)
from agent_runner.errors import CantHandleException


@pytest.mark.parametrize(("key", "partitions", "expected"), [("default", 16, 10), ("k1", 16, 9)])
def test_partition_of_is_stable(key: str, partitions: int, expected: int) -> None:
    # Fixed values: workers in other languages must compute the same (docs/concepts/distributed.md).
    assert partition_of(key, partitions) == expected


@pytest.mark.parametrize("workers", [["a"], ["a", "b"], ["w1", "w2", "w3"], list("abcdefg")])
def test_every_partition_has_exactly_one_owner(workers: list[str]) -> None:
    owned = [assigned_partitions(workers, "t", 32, w) for w in workers]
    assert sum(len(o) for o in owned) == 32
    assert set().union(*owned) == set(range(32))


def test_a_leaving_worker_moves_only_its_partitions() -> None:
    before = {p: owner_of(["a", "b", "c"], "t", p) for p in range(64)}
    after = {p: owner_of(["a", "b"], "t", p) for p in range(64)}
    moved = {p for p in range(64) if before[p] != after[p]}
    assert moved == {p for p in range(64) if before[p] == "c"}
    assert owner_of([], "t", 0) is None


def test_keys_and_headers() -> None:
    keys = Keys("app")
    assert keys.inbox("echo", 3) == "app:in:echo:3"
    assert keys.lease("echo", 3) == "app:lease:echo:3"
    assert keys.replies("w1") == "app:reply:w1"
    header = load_header(dump_header({"v": 1, "kind": "rpc", "to": "echo/é"}))
    assert header == {"v": 1, "kind": "rpc", "to": "echo/é"}
    full: Any = {"v": 1, "kind": "rpc", "to": "é/\u2028", "sender": None, "chain": ["a/b"]}
    full["error"] = {"type": "X", "message": 'a "quote"'}
    assert dump_header(full) == json.dumps(full, separators=(",", ":"), ensure_ascii=False).encode()
    assert load_header(dump_header(full).decode()) == full
    with pytest.raises(ValueError):
        load_header(b"[1, 2]")
    assert split_agent_id("t/a/b") == ("t", "a/b")
    with pytest.raises(ValueError):
        split_agent_id("nokey")


def test_remote_errors_keep_their_type() -> None:
    exc = remote_exception(
        remote_type="ValueError",
        remote_module="builtins",
        remote_message="bad",
        recipient="echo/k",
        worker="w1",
    )
    assert isinstance(exc, ValueError) and isinstance(exc, RemoteError)
    assert "echo/k" in str(exc) and exc.remote_message == "bad"
    assert error_info(exc) == {"type": "ValueError", "module": "builtins", "message": "bad"}
    cant = remote_exception(
        remote_type="CantHandleException",
        remote_module="agent_runner.errors",
        remote_message="no handler",
        recipient="echo/k",
        worker="w1",
    )
    assert isinstance(cant, CantHandleException)
    odd = remote_exception(
        remote_type="TypeError!",
        remote_module="javascript",
        remote_message="x",
        recipient="js/k",
        worker="node",
    )
    assert type(odd) is RemoteError and odd.remote_type == "TypeError!"


def test_xadds_to_one_stream_share_an_entry_in_order() -> None:
    batch: list[Any] = [
        (("XADD", "s1", "*", "h", b"a", "d", b"1"), None),
        (("HSET", "state", "k", "v"), None),
        (("XADD", "s2", "*", "h", b"x", "d", b""), None),
        (("XADD", "s1", "*", "h", b"b", "d", b"2"), None),
        (("XADD", "ctl", "MAXLEN", "~", 100, "*", "h", b"w", "d", b""), None),
    ]
    merged = [args for args, _ in merge_xadds(batch)]
    assert merged == [
        ("XADD", "s1", "*", "h", b"a", "d", b"1", "h1", b"b", "d1", b"2"),
        ("HSET", "state", "k", "v"),
        ("XADD", "s2", "*", "h", b"x", "d", b""),
        ("XADD", "ctl", "MAXLEN", "~", 100, "*", "h", b"w", "d", b""),
    ]
    fields = dict(zip(merged[0][3::2], merged[0][4::2], strict=True))
    raw = {k.encode(): v for k, v in fields.items()}
    assert entry_messages(raw) == [(b"a", b"1"), (b"b", b"2")]
    assert entry_messages({}) == []


def test_entries_are_capped() -> None:
    batch: list[Any] = [
        (("XADD", "s", "*", "h", b"h", "d", b"x"), None) for _ in range(MAX_MESSAGES_PER_ENTRY + 1)
    ]
    merged = merge_xadds(batch)
    assert [len(futures) for _, futures in merged] == [MAX_MESSAGES_PER_ENTRY, 1]
