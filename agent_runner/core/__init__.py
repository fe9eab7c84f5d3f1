"""The core message runtime: autogen-core's API, name for name, with actor turns.

Code written for autogen-core ports with an import change::

    from agent_runner.core import (
        AgentId, MessageContext, RoutedAgent, SingleThreadedAgentRuntime, rpc,
    )

    class Worker(RoutedAgent):
        def __init__(self) -> None:
            super().__init__("Worker agent")

        @rpc
        async def work(self, message: WorkRequest, ctx: MessageContext) -> WorkResponse:
            return WorkResponse(message.work_id, f"Processed: {message.data}")

    runtime = SingleThreadedAgentRuntime()
    await Worker.register(runtime, "worker", Worker)
    runtime.start()
    response = await runtime.send_message(WorkRequest("t1", "x"), AgentId("worker", "default"))
    await runtime.stop_when_idle()

Better than autogen-core: one agent instance handles one message at a time in arrival order
(reentrant call chains do not deadlock; ``concurrent_handling = True`` opts out), the
caller's cancellation reaches the handler's token, ``stop()`` fails in-flight RPCs instead of
hanging, idle agents can be deactivated and reactivated with their state, senders can be
back-pressured, strict serialization catches types that could not cross processes, and
tracing costs nothing unless a tracer provider is given, and an :class:`AccessPolicy` declares
which agent types may send to which types and publish to which topics.
"""

from agent_runner.core._access_policy import AccessPolicy
from agent_runner.core._agent_id import AgentId
from agent_runner.core._agent_instantiation import AgentInstantiationContext
from agent_runner.core._agent_metadata import AgentMetadata
from agent_runner.core._agent_protocol import Agent
from agent_runner.core._agent_proxy import AgentProxy
from agent_runner.core._agent_type import AgentType
from agent_runner.core._base_agent import BaseAgent, handles
from agent_runner.core._cancellation_token import CancellationToken
from agent_runner.core._closure_agent import ClosureAgent, ClosureContext
from agent_runner.core._default_subscription import (
    DefaultSubscription,
    default_subscription,
    type_subscription,
)
from agent_runner.core._default_topic import DefaultTopicId
from agent_runner.core._intervention import (
    DefaultInterventionHandler,
    DropMessage,
    InterventionHandler,
)
from agent_runner.core._message_context import MessageContext
from agent_runner.core._message_handler import event, message_handler, rpc
from agent_runner.core._message_handler_context import MessageHandlerContext
from agent_runner.core._message_runtime import MessageRuntime
from agent_runner.core._routed_agent import RoutedAgent
from agent_runner.core._serialization import (
    JSON_DATA_CONTENT_TYPE,
    MessageSerializer,
    UnknownPayload,
    try_get_known_serializers_for_type,
)
from agent_runner.core._single_threaded_runtime import SingleThreadedAgentRuntime
from agent_runner.core._subscription import Subscription
from agent_runner.core._subscription_context import SubscriptionInstantiationContext
from agent_runner.core._topic import TopicId
from agent_runner.core._type_prefix_subscription import TypePrefixSubscription
from agent_runner.core._type_subscription import TypeSubscription
from agent_runner.errors import (
    AccessDeniedError,
    CantHandleException,
    MessageDroppedException,
    NotAccessibleError,
    RuntimeStoppedError,
    SerializationError,
    UndeliverableException,
    UnregisteredInstanceError,
)

__all__ = [
    "AccessDeniedError",
    "AccessPolicy",
    "Agent",
    "AgentId",
    "AgentInstantiationContext",
    "AgentMetadata",
    "AgentProxy",
    "AgentType",
    "BaseAgent",
    "CancellationToken",
    "CantHandleException",
    "ClosureAgent",
    "ClosureContext",
    "DefaultInterventionHandler",
    "DefaultSubscription",
    "DefaultTopicId",
    "DropMessage",
    "InterventionHandler",
    "JSON_DATA_CONTENT_TYPE",
    "MessageContext",
    "MessageDroppedException",
    "MessageHandlerContext",
    "MessageRuntime",
    "MessageSerializer",
    "NotAccessibleError",
    "RoutedAgent",
    "RuntimeStoppedError",
    "SerializationError",
    "SingleThreadedAgentRuntime",
    "Subscription",
    "SubscriptionInstantiationContext",
    "TopicId",
    "TypePrefixSubscription",
    "TypeSubscription",
    "UndeliverableException",
    "UnknownPayload",
    "UnregisteredInstanceError",
    "default_subscription",
    "event",
    "handles",
    "message_handler",
    "rpc",
    "try_get_known_serializers_for_type",
    "type_subscription",
]
