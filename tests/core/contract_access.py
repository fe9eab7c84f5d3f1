"""Runtime contract, the access policy: the same boundaries on every runtime.

A denied send raises ``AccessDeniedError`` (a ``NotAccessibleError``) where it is made, and
reaches an outer caller as that error; a denied publish is dropped and logged, and the
subscribers never see it (checked by a later allowed message arriving alone in the same
mailbox, which the dropped one would have reached first).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import pytest

from agent_runner.core import (
    AccessDeniedError,
    AccessPolicy,
    AgentId,
    ClosureAgent,
    MessageContext,
    NotAccessibleError,
    RoutedAgent,
    TopicId,
    TypeSubscription,
    rpc,
)
from tests.core.contract_support import Echo, Note, Ping, Pong, RuntimeFactory, collector, drain


@dataclass
class Forward:
    """Ask a relay to send a Ping to an agent of ``to`` (key ``k``)."""

    to: str


@dataclass
class Announce:
    """Ask a relay to publish a Note on each topic type, in order (source ``s``)."""

    topics: list[str]


class Relay(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("sends and publishes for the test")

    @rpc
    async def on_forward(self, message: Forward, ctx: MessageContext) -> str:
        reply = await self.send_message(Ping("relayed"), AgentId(message.to, "k"))
        assert isinstance(reply, Pong)
        return reply.text

    @rpc
    async def on_announce(self, message: Announce, ctx: MessageContext) -> None:
        for topic in message.topics:
            await self.publish_message(Note(topic), TopicId(topic, "s"))


POLICY = AccessPolicy(
    sends={"relay": {"echo"}, None: {"relay"}},
    publishes={"relay": {"news"}},
)


class AccessContract:
    async def _setup(self, runtime_factory: RuntimeFactory, policy: AccessPolicy) -> Any:
        runtime = await runtime_factory([], access_policy=policy)
        await Relay.register(runtime, "relay", Relay)
        await Echo.register(runtime, "echo", Echo)
        await Echo.register(runtime, "vault", Echo)
        return runtime

    async def test_a_denied_send_raises_not_accessible(
        self, runtime_factory: RuntimeFactory
    ) -> None:
        runtime = await self._setup(runtime_factory, POLICY)
        relay = AgentId("relay", "r")
        reply = await runtime.send_message(Forward("echo"), relay)
        assert reply == "relayed from relay/r to echo/k"
        with pytest.raises(NotAccessibleError) as denied:  # relay -> vault is not declared
            await runtime.send_message(Forward("vault"), relay)
        assert isinstance(denied.value, AccessDeniedError)
        assert "'vault'" in str(denied.value)
        # a caller outside any agent (sender None) may only reach the relay
        with pytest.raises(AccessDeniedError) as direct:
            await runtime.send_message(Ping("x"), AgentId("echo", "k"))
        assert direct.value.sender_type is None and direct.value.recipient_type == "echo"
        # an agent type the policy does not list is unrestricted (default "allow")
        echo = AgentId("echo", "k")
        reply = await runtime.send_message(Ping("x"), echo, sender=AgentId("t", "1"))
        assert reply == Pong("x from t/1 to echo/k")

    async def test_a_denied_publish_is_dropped_and_logged(
        self, runtime_factory: RuntimeFactory, caplog: pytest.LogCaptureFixture
    ) -> None:
        runtime = await self._setup(runtime_factory, POLICY)
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        await ClosureAgent.register_closure(runtime, "col", collector(queue))
        for topic in ("news", "secrets"):
            await runtime.add_subscription(TypeSubscription(topic, "col"))
        with caplog.at_level(logging.WARNING, logger="agent_runner.core"):
            # the same recipient (col/s): "secrets" would arrive before "news"
            await runtime.send_message(Announce(["secrets", "news"]), AgentId("relay", "r"))
            assert await drain(queue, 1) == [("col/s", Note("news"))]
        assert queue.empty()
        assert "publish by agent relay/r on topic secrets/s dropped" in caplog.text

    async def test_default_deny_needs_every_path_declared(
        self, runtime_factory: RuntimeFactory
    ) -> None:
        policy = AccessPolicy(sends={None: {"echo"}}, default="deny")
        runtime = await self._setup(runtime_factory, policy)
        assert await runtime.send_message(Ping("x"), AgentId("echo", "k")) == Pong(
            "x from none to echo/k"
        )
        echo = AgentId("echo", "k")
        with pytest.raises(AccessDeniedError):  # relay is not listed: it may send nowhere
            await runtime.send_message(Ping("x"), echo, sender=AgentId("relay", "r"))
        with pytest.raises(AccessDeniedError):
            await runtime.send_message(Ping("x"), AgentId("vault", "k"))

    async def test_an_open_policy_changes_nothing(self, runtime_factory: RuntimeFactory) -> None:
        policy = AccessPolicy(sends={"relay": {"*"}})
        assert policy.is_open
        runtime = await self._setup(runtime_factory, policy)
        assert await runtime.send_message(Forward("vault"), AgentId("relay", "r")) == (
            "relayed from relay/r to vault/k"
        )


__all__ = ["AccessContract", "Announce", "Forward", "Relay"]
