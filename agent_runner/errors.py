"""The exception tree of agent-runner: one root, so one ``except`` catches every layer.

::

    AgentRunnerError
    ├── ConfigurationError            a setting is missing or wrong
    ├── CoreError                     the core message runtime (autogen-core names kept)
    │   ├── CantHandleException       the agent has no handler for this message type
    │   ├── UndeliverableException    no agent type / recipient for the message
    │   │   └── UnregisteredInstanceError  an instance-only type has no instance with that key
    │   │                                  (also a ``RuntimeError``, as in autogen-core)
    │   ├── MessageDroppedException   an intervention handler dropped the message
    │   ├── NotAccessibleError        the agent lives elsewhere and cannot be reached directly
    │   │   └── AccessDeniedError     the access policy forbids this sender to send there
    │   ├── RuntimeStoppedError       the runtime stopped while a call was in flight
    │   ├── SerializationError        no serializer for a type, or a payload that cannot be decoded
    │   └── RPCTimeoutError           an RPC got no reply in time (also a ``TimeoutError``)
    ├── InvalidMessageError           an input pushed something that is not a valid Message
    ├── AgentExecutionError           the user's agent raised or timed out
    ├── StoreError                    the journal / state store failed
    ├── LeaseLostError                a fenced write came from a holder that lost its lease
    ├── BudgetExceededError           spending would exceed a configured budget
    ├── PaymentError                  a request's payment is missing, invalid or replayed
    ├── SandboxError                  the code sandbox cannot run (not the code's own failure)
    ├── ConnectorError                a connector failed
    │   ├── DeliveryError             an output gave up after its capped retries
    │   └── RateLimitedError          a platform rate limit outlasted the allowed wait
    ├── ModelClientError              an LLM endpoint failed (after its capped retries)
    ├── OutboundRefusedError          the outbound guard refused a destination (SSRF)
    ├── MediaError                    a file could not be fetched (too big, wrong type, failed)
    │   └── UploadRefusedError        a reply's file is past the platform's upload limit (also
    │                                 a ``DeliveryError``: the runner does not retry it)
    ├── ApprovalError                 an approval cannot be decided (unknown, not allowed, decided)
    └── ToolError                     a tool failed in a way the model is told (LLMAgent)
        └── MCPToolError              an MCP server's tool failed, timed out or is unreachable
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

MCPFailure = Literal["error", "timeout", "disconnected", "unavailable"]
"""How an MCP tool call failed (:attr:`MCPToolError.reason`)."""


class AgentRunnerError(Exception):
    """Root of every error raised by agent-runner and its connectors."""


class ConfigurationError(AgentRunnerError):
    """A setting is missing or has a wrong value."""


class CoreError(AgentRunnerError):
    """An error of the core message runtime."""


class CantHandleException(CoreError):
    """The recipient has no handler for the message's type."""


class UndeliverableException(CoreError):
    """The message cannot be delivered: unknown agent type or no recipient."""


class UnregisteredInstanceError(UndeliverableException, RuntimeError):
    """The recipient's type has only registered instances (no factory) and none has this key.

    Usually a subscription maps a topic to a key nobody registered. autogen-core raises a
    ``RuntimeError`` there, so this is one too.
    """


class MessageDroppedException(CoreError):
    """An intervention handler dropped the message."""


class NotAccessibleError(CoreError):
    """The agent's instance is not reachable from here (e.g. it lives on another worker)."""


class AccessDeniedError(NotAccessibleError):
    """The runtime's :class:`~agent_runner.core.AccessPolicy` forbids this send.

    ``sender_type`` is None for a sender outside any agent (and in an error rebuilt from
    another process, where only the message travels).
    """

    def __init__(
        self, message: str, *, sender_type: str | None = None, recipient_type: str = ""
    ) -> None:
        super().__init__(message)
        self.sender_type = sender_type
        self.recipient_type = recipient_type


class RuntimeStoppedError(CoreError):
    """The runtime stopped while the call was in flight."""


class SerializationError(CoreError):
    """A message type has no serializer, or a payload cannot be encoded or decoded."""


class RPCTimeoutError(CoreError, TimeoutError):
    """An RPC got no reply within its timeout."""


class InvalidMessageError(AgentRunnerError, ValueError):
    """An input pushed something that is not a valid :class:`~agent_runner.Message`.

    ``reason`` is one human-readable line; ``errors`` holds the field-level details
    (pydantic's ``errors()`` shape: ``loc``, ``msg``, ``type``).
    """

    def __init__(self, reason: str, errors: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.errors = list(errors)


class AgentExecutionError(AgentRunnerError):
    """The user's agent raised or exceeded its time limit."""


class StoreError(AgentRunnerError):
    """The store (journal, cursors, memory, ledger) failed."""


class LeaseLostError(AgentRunnerError):
    """A write fenced by lease ``lease`` with token ``token`` was refused: that holding ended.

    The lease was released, expired or taken over by another process; the holder must stop
    acting for it (see :class:`~agent_runner.store.Fence`). Retrying cannot help.
    """

    def __init__(self, message: str, *, lease: str = "", token: int = 0) -> None:
        super().__init__(message)
        self.lease = lease
        self.token = token


class BudgetExceededError(AgentRunnerError):
    """Spending would exceed a budget; raised before the money is spent."""

    def __init__(
        self, message: str, *, scope: str = "", limit: float = 0.0, spent: float = 0.0
    ) -> None:
        super().__init__(message)
        self.scope = scope
        self.limit = limit
        self.spent = spent


class PaymentError(AgentRunnerError):
    """A request's payment is missing, invalid, too small, too old or already used."""


class SandboxError(AgentRunnerError):
    """The code sandbox cannot run code (misconfigured, or its isolation is unavailable).

    A failing or limited run is not an error: it is a
    :class:`~agent_runner.sandbox.SandboxResult`.
    """


class ConnectorError(AgentRunnerError):
    """A connector failed."""


class DeliveryError(ConnectorError):
    """An output gave up delivering a reply after its capped retries."""


class RateLimitedError(ConnectorError):
    """A platform's rate limit lasts longer than the connector is allowed to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelClientError(AgentRunnerError):
    """A model endpoint failed after the client's capped retries."""


class OutboundRefusedError(AgentRunnerError):
    """The outbound guard refused a destination (see :mod:`agent_runner.outbound`).

    ``reason`` is one line (``"169.254.169.254 is a link-local address"``); ``address`` the
    refused address when there is one. Retrying cannot help.
    """

    def __init__(self, reason: str, *, address: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.address = address


class MediaError(AgentRunnerError):
    """A file could not be fetched or sent: too big, a type not allowed, the platform failed.

    The message names the file, its size or type and the limit, never a URL that carries a
    token (Telegram's file URLs do).
    """


class UploadRefusedError(MediaError, DeliveryError):
    """A reply's file is past what the platform accepts (size, type or count); retrying
    cannot help (a :class:`DeliveryError`: the runner gives up at once). ``name``, ``size``
    and ``limit`` say which file and why."""

    def __init__(self, reason: str, *, name: str, size: int | None = None, limit: int = 0):
        super().__init__(reason)
        self.name = name
        self.size = size
        self.limit = limit


class ApprovalError(AgentRunnerError):
    """An approval cannot be decided: ``reason`` is ``"unknown"``, ``"not_allowed"`` or
    ``"decided"`` (someone decided it first)."""

    def __init__(self, message: str, *, reason: Literal["unknown", "not_allowed", "decided"]):
        super().__init__(message)
        self.reason = reason


class ToolError(AgentRunnerError):
    """A tool failed and the model should be told why: :class:`~agent_runner.llm.LLMAgent`
    turns it into the tool's result (``"Error: <message>"``) and the turn goes on.

    Raise it from your own tools for a failure the model can act on ("no such city").
    """


class MCPToolError(ToolError):
    """An MCP server's tool failed (see :mod:`agent_runner.mcp`).

    ``reason`` says how: ``"error"`` (the server answered with an error), ``"timeout"`` (no
    answer within the call's timeout), ``"disconnected"`` (the connection was lost during
    the call) or ``"unavailable"`` (the server is not connected, or was given up).
    """

    def __init__(self, message: str, *, reason: MCPFailure = "error") -> None:
        super().__init__(message)
        self.reason = reason


__all__ = [
    "AccessDeniedError",
    "AgentExecutionError",
    "AgentRunnerError",
    "ApprovalError",
    "BudgetExceededError",
    "CantHandleException",
    "ConfigurationError",
    "ConnectorError",
    "CoreError",
    "DeliveryError",
    "InvalidMessageError",
    "LeaseLostError",
    "MCPFailure",
    "MCPToolError",
    "MediaError",
    "MessageDroppedException",
    "ModelClientError",
    "NotAccessibleError",
    "OutboundRefusedError",
    "PaymentError",
    "RPCTimeoutError",
    "RateLimitedError",
    "RuntimeStoppedError",
    "SandboxError",
    "SerializationError",
    "StoreError",
    "ToolError",
    "UndeliverableException",
    "UnregisteredInstanceError",
    "UploadRefusedError",
]
