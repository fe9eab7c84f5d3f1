"""Double texting: what the runner does with a message that arrives while its conversation is
still busy with an earlier one.

``AgentRuntime(double_texting=...)`` takes a policy for the whole runner or a function of the
arriving message (so per conversation, per source, per user):

- ``"enqueue"`` (default): the message waits its turn; every message gets its own turn.
- ``"interrupt"``: the running turn is cancelled (its ``ctx.cancellation_token`` and the
  agent's coroutine, hence its model call); its partial output is dropped: nothing it would
  have replied is sent and nothing of it is remembered, though text it already streamed stays
  shown. The new message's turn then starts with the interrupted message(s) in memory (and in
  ``context.merged``), so the agent answers both.
- ``"merge"``: messages arriving while a turn runs wait, and the next turn gets all of them
  at once: the last one is ``message``, the earlier ones are in memory and ``context.merged``.
  The replies answer the last one; the earlier ones are completed without a reply of their own.
- ``"reject"``: the message is answered ``busy_reply`` at once and not handled further.

Every message is journaled as usual first: a message folded into a later turn (merge,
interrupt) is completed when that turn is; after a crash before that, each is handled on its
own at the next start. A busy conversation is one with a turn running or messages waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias, get_args

from agent_runner.errors import ConfigurationError
from agent_runner.message import Message

DoubleTexting: TypeAlias = Literal["enqueue", "interrupt", "merge", "reject"]
"""What to do with a message arriving while its conversation is busy."""

DoubleTextingRule: TypeAlias = DoubleTexting | Callable[[Message], DoubleTexting]
"""One policy for every conversation, or a function choosing one for the arriving message."""

DEFAULT_BUSY_REPLY = "I'm still working on your previous message; please send this again later."
"""The ``reject`` policy's answer."""

_POLICIES: frozenset[str] = frozenset(get_args(DoubleTexting))


def check_policy(policy: object) -> DoubleTexting:
    """``policy`` when it is a known policy, else ConfigurationError."""
    if policy not in _POLICIES:
        raise ConfigurationError(
            f"double_texting must be one of {sorted(_POLICIES)}, not {policy!r}"
        )
    return policy  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class TextingPolicy:
    """A runner's double-texting settings, checked: :meth:`choose` gives a message's policy."""

    choose: Callable[[Message], DoubleTexting]
    busy_reply: str | None

    @classmethod
    def of(cls, rule: DoubleTextingRule, busy_reply: str | None) -> TextingPolicy | None:
        """The settings; None for plain ``"enqueue"`` (the runner's fast path)."""
        if callable(rule):
            return cls(lambda message: check_policy(rule(message)), busy_reply)
        policy = check_policy(rule)
        if policy == "enqueue":
            return None
        return cls(lambda message: policy, busy_reply)


__all__ = [
    "DEFAULT_BUSY_REPLY",
    "DoubleTexting",
    "DoubleTextingRule",
    "TextingPolicy",
    "check_policy",
]
