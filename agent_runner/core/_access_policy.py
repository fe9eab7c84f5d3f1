"""AccessPolicy: which agent types may send to which types and publish to which topics.

A runtime given a policy checks every ``send_message`` (a denied one raises
:class:`~agent_runner.errors.AccessDeniedError`, a :class:`NotAccessibleError`) and every
``publish_message`` (a denied one is dropped and logged at WARNING). The check is one dict
lookup and one set membership; a runtime without a policy, or with an open one, does not
check at all. Both runtimes take the same policy, so a deployment's boundaries do not change
when agents move from one process to many.

The sender is the ``sender`` the message is sent with (an agent's own ``send_message`` and
``publish_message`` pass its id); ``None`` stands for callers outside any agent (the I/O
runner, a script). In one process the policy keeps agents, prompt-injected ones included,
to the paths the operator declared; it is not a sandbox against hostile Python code in the
same process. Between processes, Redis ACLs make the same boundaries hard
(:func:`agent_runner.distributed.acl_rules`, docs/concepts/distributed.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Literal

from agent_runner.core._agent_id import AgentId
from agent_runner.core._topic import TopicId
from agent_runner.errors import AccessDeniedError

logger = logging.getLogger("agent_runner.core")

ANY = "*"
"""In a policy's list of recipient types or topic types: every one."""

Rule = frozenset[str] | None
"""What one sender type may reach: a set of names, or None for everything."""


def _table(rules: Mapping[str | None, Iterable[str]] | None) -> dict[str | None, Rule]:
    table: dict[str | None, Rule] = {}
    for sender, names in (rules or {}).items():
        if isinstance(names, str):
            raise TypeError(
                f"the rule of {sender!r} must be a collection of names, not the string {names!r}"
            )
        allowed = frozenset(names)
        table[sender] = None if ANY in allowed else allowed
    return table


class AccessPolicy:
    """Boundaries between agents, declared in code; the same for every runtime.

    Args:
        sends: Sender agent type -> the agent types it may send to (``"*"``: any).
            The key ``None`` is for senders outside any agent.
        publishes: Sender agent type -> the topic types it may publish to (``"*"``: any).
        default: What a sender type that a table does not list may do: ``"allow"``
            (everything; the default, so adding a rule restricts only that sender) or
            ``"deny"`` (nothing: every path must be declared).

    Example::

        policy = AccessPolicy(
            sends={"planner": {"coder", "critic"}, "coder": {"sandbox"}, None: {"planner"}},
            publishes={"planner": {"progress"}},
        )
        runtime = SingleThreadedAgentRuntime(access_policy=policy)
        # or DistributedAgentRuntime(url, access_policy=policy)
    """

    __slots__ = ("_default", "_publishes", "_sends", "default", "is_open")

    def __init__(
        self,
        *,
        sends: Mapping[str | None, Iterable[str]] | None = None,
        publishes: Mapping[str | None, Iterable[str]] | None = None,
        default: Literal["allow", "deny"] = "allow",
    ) -> None:
        if default not in ("allow", "deny"):
            raise ValueError(f"default must be 'allow' or 'deny', not {default!r}")
        self.default = default
        self._sends = _table(sends)
        self._publishes = _table(publishes)
        self._default: Rule = None if default == "allow" else frozenset()
        self.is_open = (
            default == "allow"
            and all(rule is None for rule in self._sends.values())
            and all(rule is None for rule in self._publishes.values())
        )
        """Whether the policy allows everything (a runtime then skips the checks)."""

    def __repr__(self) -> str:
        return (
            f"AccessPolicy(sends={self._sends!r}, publishes={self._publishes!r}, "
            f"default={self.default!r})"
        )

    def may_send(self, sender_type: str | None, recipient_type: str) -> bool:
        """Whether agents of ``sender_type`` (None: outside any agent) may send to the type."""
        allowed = self._sends.get(sender_type, self._default)
        return allowed is None or recipient_type in allowed

    def may_publish(self, sender_type: str | None, topic_type: str) -> bool:
        """Whether agents of ``sender_type`` may publish to topics of ``topic_type``."""
        allowed = self._publishes.get(sender_type, self._default)
        return allowed is None or topic_type in allowed

    def send_targets(self, sender_type: str | None) -> frozenset[str] | None:
        """The agent types ``sender_type`` may send to (None: any)."""
        return self._sends.get(sender_type, self._default)

    def check_send(self, sender: AgentId | None, recipient: AgentId) -> None:
        """AccessDeniedError unless ``sender`` may send to ``recipient``."""
        sender_type = None if sender is None else sender.type
        allowed = self._sends.get(sender_type, self._default)
        if allowed is not None and recipient.type not in allowed:
            who = "a sender outside any agent" if sender is None else f"agent {sender}"
            raise AccessDeniedError(
                f"the access policy does not let {who} send to agent type {recipient.type!r}",
                sender_type=sender_type,
                recipient_type=recipient.type,
            )

    def allows_publish(self, sender: AgentId | None, topic_id: TopicId) -> bool:
        """Whether ``sender`` may publish on ``topic_id``; a refusal is logged at WARNING."""
        sender_type = None if sender is None else sender.type
        allowed = self._publishes.get(sender_type, self._default)
        if allowed is None or topic_id.type in allowed:
            return True
        logger.warning(
            "access policy: publish by %s on topic %s dropped (topic type %r not allowed)",
            "a sender outside any agent" if sender is None else f"agent {sender}",
            topic_id,
            topic_id.type,
        )
        return False


__all__ = ["ANY", "AccessPolicy"]
