"""The public surface named by issue 2: autogen-core's names, all present."""

from __future__ import annotations

import inspect

import pytest

import agent_runner.core as core
from agent_runner.errors import AgentRunnerError

NAMES = """AgentId AgentType AgentMetadata TopicId DefaultTopicId Agent BaseAgent RoutedAgent
message_handler rpc event ClosureAgent ClosureContext AgentProxy MessageContext
CancellationToken AgentInstantiationContext MessageHandlerContext Subscription
TypeSubscription TypePrefixSubscription DefaultSubscription default_subscription
type_subscription InterventionHandler DefaultInterventionHandler DropMessage MessageSerializer
try_get_known_serializers_for_type UnknownPayload JSON_DATA_CONTENT_TYPE CantHandleException
UndeliverableException MessageDroppedException NotAccessibleError MessageRuntime
SingleThreadedAgentRuntime""".split()

RUNTIME_METHODS = """start stop stop_when_idle stop_when close process_next send_message
publish_message register_factory register_agent_instance add_subscription remove_subscription
get agent_metadata save_state load_state agent_save_state agent_load_state
try_get_underlying_agent_instance add_message_serializer""".split()


@pytest.mark.parametrize("name", NAMES)
def test_exported(name: str) -> None:
    assert name in core.__all__ and hasattr(core, name)


@pytest.mark.parametrize("name", RUNTIME_METHODS)
def test_runtime_methods(name: str) -> None:
    assert callable(getattr(core.SingleThreadedAgentRuntime, name))


def test_runtime_constructor_is_autogen_compatible() -> None:
    params = inspect.signature(core.SingleThreadedAgentRuntime).parameters
    assert list(params)[:3] == [
        "intervention_handlers",
        "tracer_provider",
        "ignore_unhandled_exceptions",
    ]
    assert params["ignore_unhandled_exceptions"].default is True
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in list(params.values())[3:])
    assert isinstance(core.SingleThreadedAgentRuntime().unprocessed_messages_count, int)


def test_errors_share_one_root() -> None:
    for name in (
        "CantHandleException",
        "UndeliverableException",
        "MessageDroppedException",
        "NotAccessibleError",
        "RuntimeStoppedError",
        "SerializationError",
    ):
        assert issubclass(getattr(core, name), AgentRunnerError)


def test_base_agent_helpers() -> None:
    for name in ("register", "register_instance", "send_message", "publish_message"):
        assert callable(getattr(core.BaseAgent, name))
    assert core.BaseAgent.concurrent_handling is False
