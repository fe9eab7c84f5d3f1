"""agent-runner: run autonomous agents forever.

Inputs push validated messages, each conversation is an actor in the core message runtime,
the agent answers, outputs deliver the reply::

    from agent_runner import AgentRuntime, ShortTermMemory

    async def echo(message, context):
        return message.text

    runtime = AgentRuntime(inputs=[chat], outputs=[chat], agent=echo,
                           short_term_memory=ShortTermMemory())
    asyncio.run(runtime.run())     # until SIGTERM / SIGINT / runtime.stop()
"""

from agent_runner.agent import (
    Agent,
    AgentContext,
    AgentFunction,
    AgentResult,
    ConversationMemory,
    CostMeter,
)
from agent_runner.connector import (
    Accepted,
    AgentInput,
    AgentOutput,
    BaseConnector,
    DeliveryContract,
    DeliveryKey,
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
    MediaError,
    PaymentError,
    RateLimitedError,
    StoreError,
    UploadRefusedError,
)
from agent_runner.handover import Handover, PipelinedSink
from agent_runner.memory import ShortTermMemory
from agent_runner.message import Attachment, Author, Button, File, Message, Reply
from agent_runner.pricing import Budget, ModelPrice, PaymentGate, PaymentVerifier, Pricing
from agent_runner.runner import AgentRuntime, InputLeases, RefusedMessageError
from agent_runner.store import InMemoryStore, MemoryItem, SQLiteStore, Store

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
    "AgentRuntime",
    "Attachment",
    "Author",
    "BaseConnector",
    "Budget",
    "BudgetExceededError",
    "Button",
    "ConfigurationError",
    "ConnectorError",
    "ConversationMemory",
    "CostMeter",
    "DeliveryContract",
    "DeliveryError",
    "DeliveryKey",
    "File",
    "Handover",
    "InMemoryStore",
    "InputLeases",
    "InvalidMessageError",
    "MediaError",
    "MemoryItem",
    "Message",
    "ModelPrice",
    "PaymentError",
    "PaymentGate",
    "PaymentVerifier",
    "PipelinedSink",
    "Pricing",
    "RateLimitedError",
    "RefusedMessageError",
    "Reply",
    "SQLiteStore",
    "ShortTermMemory",
    "Sink",
    "Store",
    "StoreError",
    "StreamingOutput",
    "UploadRefusedError",
]
