"""Runtime contract, part three: where code written for autogen-core relies on its behaviour.

Checked against autogen-core 0.7.5: an RPC that only ``@event`` handlers take returns None
without calling them; a publish that a subscription maps to a key of an instance-only type
fails with a ``RuntimeError`` (``test_agent_type_register_instance_publish_new_source``).
"""

from __future__ import annotations

import logging

import pytest

from agent_runner.core import (
    AgentId,
    CantHandleException,
    MessageContext,
    MessageRuntime,
    RoutedAgent,
    TopicId,
    TypeSubscription,
    UndeliverableException,
    UnregisteredInstanceError,
    event,
    rpc,
)
from agent_runner.errors import AgentRunnerError
from tests.core.contract_support import Note, Ping, RuntimeFactory


class Listener(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("only listens to notes")
        self.notes: list[str] = []

    @event
    async def on_note(self, message: Note, ctx: MessageContext) -> None:
        self.notes.append(message.text)

    @rpc
    async def count(self, message: Ping, ctx: MessageContext) -> int:
        return len(self.notes)


class StrictListener(Listener):
    strict_rpc_routing = True


class CompatibilityContract:
    async def test_rpc_that_only_event_handlers_take_returns_none(
        self, runtime: MessageRuntime, caplog: pytest.LogCaptureFixture
    ) -> None:
        await Listener.register(runtime, "listener", Listener)
        await StrictListener.register(runtime, "strict", StrictListener)
        await runtime.add_subscription(TypeSubscription("notes", "listener"))
        target = AgentId("listener", "k")
        with caplog.at_level(logging.DEBUG, logger="agent_runner.core"):
            assert await runtime.send_message(Note("direct"), target) is None
        # logged: at WARNING the first time for the class and type, then at DEBUG
        assert "only @event handlers take this type" in caplog.text
        assert await runtime.send_message(Ping("?"), target) == 0  # the event handler did not run
        await runtime.publish_message(Note("published"), TopicId("notes", "k"))
        # published messages do reach it (handled before the next RPC: arrival order)
        assert await runtime.send_message(Ping("?"), target) == 1
        with pytest.raises(CantHandleException):  # the opt-in strict mode raises
            await runtime.send_message(Note("direct"), AgentId("strict", "k"))

    async def test_publish_to_a_key_of_an_instance_only_type_raises_a_runtime_error(
        self, runtime_factory: RuntimeFactory
    ) -> None:
        runtime = await runtime_factory([], ignore_unhandled_exceptions=False)
        await Listener().register_instance(runtime, AgentId("name", "default"))
        await runtime.add_subscription(TypeSubscription("notdefault", "name"))
        with pytest.raises(RuntimeError) as raised:
            await runtime.publish_message(Note("x"), TopicId("notdefault", "notdefault"))
            await runtime.stop_when_idle()
        assert isinstance(raised.value, UnregisteredInstanceError)
        assert isinstance(raised.value, UndeliverableException)
        assert isinstance(raised.value, AgentRunnerError)

    async def test_rpc_to_a_key_of_an_instance_only_type_raises(
        self, runtime: MessageRuntime
    ) -> None:
        await Listener().register_instance(runtime, AgentId("single", "one"))
        assert await runtime.send_message(Ping("?"), AgentId("single", "one")) == 0
        with pytest.raises(UnregisteredInstanceError) as raised:
            await runtime.send_message(Ping("?"), AgentId("single", "two"))
        assert isinstance(raised.value, RuntimeError)


__all__ = ["CompatibilityContract"]
