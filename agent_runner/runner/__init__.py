"""The I/O runner: :class:`AgentRuntime` and the parts it is made of.

The user-facing names are re-exported from :mod:`agent_runner`; this package holds how the
runner works, one concept per module:

- ``agent_runtime``: :class:`AgentRuntime`, the facade (``run``, ``stop``, ``sink``);
- ``guards``: loop guards refusing valid messages (own or ignored authors, bots, depth);
- ``mailboxes``: per-conversation FIFO mailboxes in front of the core message runtime;
- ``double_texting``: the policies for a message arriving while its conversation is busy;
- ``conversation``: the conversation actor, one keyed core agent per conversation
  (:class:`Turn` in, :class:`TurnResult` out);
- ``replies``: routing replies to outputs, the at-most-once claim, capped retries;
- ``lifecycle``: opening and closing the store, connectors and core runtime; inputs
  supervised with backoff;
- ``leadership``: single-consumer inputs run in one replica at a time, under store leases;
- ``recovery``: accepted messages not yet answered queued again, at start and from replicas
  that died;
- ``config``: checking the runner's configuration; ``signals``: SIGTERM/SIGINT.
"""

from agent_runner.runner.agent_runtime import (
    DEFAULT_BUDGET_REPLY,
    DEFAULT_ERROR_REPLY,
    AgentRuntime,
)
from agent_runner.runner.conversation import CONVERSATION_AGENT_TYPE, Turn, TurnResult
from agent_runner.runner.double_texting import DEFAULT_BUSY_REPLY, DoubleTexting, DoubleTextingRule
from agent_runner.runner.guards import LoopGuard, RefusedMessageError
from agent_runner.runner.leadership import InputLeases

__all__ = [
    "AgentRuntime",
    "CONVERSATION_AGENT_TYPE",
    "DEFAULT_BUDGET_REPLY",
    "DEFAULT_BUSY_REPLY",
    "DEFAULT_ERROR_REPLY",
    "DoubleTexting",
    "DoubleTextingRule",
    "InputLeases",
    "LoopGuard",
    "RefusedMessageError",
    "Turn",
    "TurnResult",
]
