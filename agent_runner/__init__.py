"""agent-runner: run autonomous agents forever.

Inputs push validated messages, each conversation is an actor in the core message runtime,
the agent answers, outputs deliver the reply.
"""

from agent_runner.agent import (
    Agent,
    AgentContext,
    AgentFunction,
    AgentResult,
    ConversationMemory,
    CostMeter,
    MemoryItem,
)
from agent_runner.connector import (
    Accepted,
    AgentInput,
    AgentOutput,
    BaseConnector,
    Sink,
    StreamingOutput,
)
from agent_runner.errors import (
    AgentExecutionError,
    AgentRunnerError,
    BudgetExceededError,
    ConfigurationError,
    ConnectorError,
    DeliveryError,
    InvalidMessageError,
    PaymentError,
    RateLimitedError,
    StoreError,
)
from agent_runner.message import Attachment, Author, Message, Reply

__all__ = [
    "Accepted",
    "Agent",
    "AgentContext",
    "AgentExecutionError",
    "AgentFunction",
    "AgentInput",
    "AgentOutput",
    "AgentResult",
    "AgentRunnerError",
    "Attachment",
    "Author",
    "BaseConnector",
    "BudgetExceededError",
    "ConfigurationError",
    "ConnectorError",
    "ConversationMemory",
    "CostMeter",
    "DeliveryError",
    "InvalidMessageError",
    "MemoryItem",
    "Message",
    "PaymentError",
    "RateLimitedError",
    "Reply",
    "Sink",
    "StoreError",
    "StreamingOutput",
]
