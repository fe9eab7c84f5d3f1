"""AccessPolicy's rules as a pure function of (sender type, recipient or topic type)."""

from __future__ import annotations

import pytest

from agent_runner.core import AccessPolicy

POLICY = AccessPolicy(
    sends={"planner": {"coder", "critic"}, "coder": set(), None: {"planner"}},
    publishes={"planner": {"progress"}, "coder": {"*"}},
)


@pytest.mark.parametrize(
    ("sender", "recipient", "allowed"),
    [
        ("planner", "coder", True),
        ("planner", "critic", True),
        ("planner", "vault", False),
        ("coder", "planner", False),  # an empty rule: may send nowhere
        (None, "planner", True),
        (None, "coder", False),
        ("unlisted", "vault", True),  # default "allow"
    ],
)
def test_may_send(sender: str | None, recipient: str, allowed: bool) -> None:
    assert POLICY.may_send(sender, recipient) is allowed


@pytest.mark.parametrize(
    ("sender", "topic", "allowed"),
    [
        ("planner", "progress", True),
        ("planner", "audit", False),
        ("coder", "anything", True),  # "*"
        (None, "audit", True),
    ],
)
def test_may_publish(sender: str | None, topic: str, allowed: bool) -> None:
    assert POLICY.may_publish(sender, topic) is allowed


def test_default_deny_closes_unlisted_senders() -> None:
    policy = AccessPolicy(sends={"a": {"b"}}, default="deny")
    assert policy.may_send("a", "b")
    assert not policy.may_send("b", "a")
    assert not policy.may_publish("a", "t")  # no publish rules at all
    assert not policy.is_open


def test_open_policies() -> None:
    assert AccessPolicy().is_open
    assert AccessPolicy(sends={"a": ["*"]}, publishes={None: ["*", "x"]}).is_open
    assert not POLICY.is_open


def test_bad_declarations_are_refused() -> None:
    with pytest.raises(TypeError, match="collection of names"):
        AccessPolicy(sends={"a": "b"})
    with pytest.raises(ValueError, match="'allow' or 'deny'"):
        AccessPolicy(default="closed")  # type: ignore[arg-type]
