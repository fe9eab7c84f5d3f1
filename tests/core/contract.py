"""The behaviour every MessageRuntime must have, written once.

Subclasses provide two fixtures:

- ``runtime``: a started :class:`MessageRuntime` (stopped and closed after the test);
- ``runtime_factory``: an async callable ``(intervention_handlers) -> started runtime`` whose
  runtimes are cleaned up after the test.

Tests only use the MessageRuntime protocol and the agent classes, so the distributed runtime
reuses them unchanged. Published messages are awaited through queues, never by sleeping.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent_runner.core import (
    JSON_DATA_CONTENT_TYPE,
    AgentId,
    AgentInstantiationContext,
    AgentProxy,
    AgentType,
    BaseAgent,
    CantHandleException,
    ClosureAgent,
    ClosureContext,
    DefaultInterventionHandler,
    DefaultSubscription,
    DefaultTopicId,
    DropMessage,
    MessageContext,
    MessageDroppedException,
    MessageHandlerContext,
    MessageRuntime,
    RoutedAgent,
    TopicId,
    TypePrefixSubscription,
    TypeSubscription,
    UndeliverableException,
    default_subscription,
    event,
    message_handler,
    rpc,
    try_get_known_serializers_for_type,
    type_subscription,
)
from tests.core.contract_access import AccessContract
from tests.core.contract_compat import CompatibilityContract
from tests.core.contract_support import (
    WAIT,
    Ask,
    Echo,
    Model,
    Note,
    Ping,
    Pong,
    RuntimeFactory,
    Step,
    collector,
    drain,
    starts_with_a,
)
from tests.core.contract_turns import TurnsContract


class RuntimeContract(TurnsContract, CompatibilityContract, AccessContract):
    # ------------------------------------------------------------------ RPC

    async def test_rpc_returns_the_handlers_reply(self, runtime: MessageRuntime) -> None:
        await Echo.register(runtime, "echo", Echo)
        reply = await runtime.send_message(Ping("hi"), AgentId("echo", "k1"))
        assert reply == Pong("hi from none to echo/k1")

    async def test_rpc_context_carries_sender_and_message_id(self, runtime: MessageRuntime) -> None:
        seen: list[MessageContext] = []

        async def record(ctx: ClosureContext, message: Ping, mctx: MessageContext) -> str:
            seen.append(mctx)
            assert MessageHandlerContext.agent_id() == ctx.id
            return message.text.upper()

        await ClosureAgent.register_closure(runtime, "rec", record)
        sender = AgentId("outside", "me")
        reply = await runtime.send_message(
            Ping("x"), AgentId("rec", "a"), sender=sender, message_id="m-1"
        )
        assert reply == "X"
        (ctx,) = seen
        assert ctx.sender == sender and ctx.is_rpc and ctx.message_id == "m-1"
        assert ctx.topic_id is None

    async def test_agents_send_to_each_other(self, runtime: MessageRuntime) -> None:
        class Relay(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("relays to echo")

            @rpc
            async def on_ping(self, message: Ping, ctx: MessageContext) -> Pong:
                reply: Pong = await self.send_message(message, AgentId("echo", "x"))
                return Pong("relayed " + reply.text)

        await Echo.register(runtime, "echo", Echo)
        await Relay.register(runtime, "relay", Relay)
        reply = await runtime.send_message(Ping("hi"), AgentId("relay", "r"))
        assert reply == Pong("relayed hi from relay/r to echo/x")

    async def test_send_to_unknown_type_raises_at_once(self, runtime: MessageRuntime) -> None:
        async with asyncio.timeout(WAIT):
            with pytest.raises(UndeliverableException):
                await runtime.send_message(Ping("x"), AgentId("nobody", "k"))

    async def test_handler_errors_reach_the_caller(self, runtime: MessageRuntime) -> None:
        async def fail(ctx: ClosureContext, message: Ping, mctx: MessageContext) -> None:
            raise ValueError(f"boom {message.text}")

        await ClosureAgent.register_closure(runtime, "fail", fail)
        with pytest.raises(ValueError, match="boom 1"):
            await runtime.send_message(Ping("1"), AgentId("fail", "k"))
        # the agent keeps working after an error
        with pytest.raises(ValueError, match="boom 2"):
            await runtime.send_message(Ping("2"), AgentId("fail", "k"))

    async def test_cant_handle_from_closure_and_routed_agent(self, runtime: MessageRuntime) -> None:
        async def only_pings(ctx: ClosureContext, message: Ping, mctx: MessageContext) -> str:
            return "ok"

        await ClosureAgent.register_closure(
            runtime, "strict", only_pings, unknown_type_policy="error"
        )
        await Echo.register(runtime, "echo", Echo)
        assert await runtime.send_message(Ping("p"), AgentId("strict", "k")) == "ok"
        with pytest.raises(CantHandleException):
            await runtime.send_message(Note("n"), AgentId("strict", "k"))
        with pytest.raises(CantHandleException):
            await runtime.send_message(Note("n"), AgentId("echo", "k"))

    # ------------------------------------------------------------------ routing

    async def test_routed_agent_routes_by_type_kind_and_match(
        self, runtime: MessageRuntime
    ) -> None:
        events: asyncio.Queue[str] = asyncio.Queue()

        class Router(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("routes")

            @rpc(match=starts_with_a)
            async def a_rpc(self, message: Ping, ctx: MessageContext) -> str:
                return "a"

            @rpc
            async def b_rpc(self, message: Ping, ctx: MessageContext) -> str:
                return "b"

            @event
            async def on_ping_event(self, message: Ping, ctx: MessageContext) -> None:
                await events.put(f"event {message.text} on {ctx.topic_id}")

            @message_handler
            async def on_note(self, message: Note, ctx: MessageContext) -> str | None:
                if ctx.is_rpc:
                    return "note rpc"
                await events.put("note event")
                return None

            @rpc
            async def on_either(self, message: Step | Ask, ctx: MessageContext) -> int:
                return message.index if isinstance(message, Step) else message.hops

        await Router.register(runtime, "router", Router)
        await runtime.add_subscription(TypeSubscription("t", "router"))
        target = AgentId("router", "k")
        assert await runtime.send_message(Ping("apple"), target) == "a"
        assert await runtime.send_message(Ping("berry"), target) == "b"
        assert await runtime.send_message(Note("n"), target) == "note rpc"
        assert await runtime.send_message(Step(7), target) == 7
        assert await runtime.send_message(Ask(3), target) == 3
        await runtime.publish_message(Ping("p"), TopicId("t", "k"))
        await runtime.publish_message(Note("n"), TopicId("t", "k"))
        async with asyncio.timeout(WAIT):
            assert await events.get() == "event p on t/k"
            assert await events.get() == "note event"

    async def test_return_types_are_checked_and_overrides_respected(
        self, runtime: MessageRuntime
    ) -> None:
        seen: list[str] = []

        class Liar(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("returns the wrong type")

            @rpc
            async def on_ping(self, message: Ping, ctx: MessageContext) -> int:
                return message.text  # type: ignore[return-value]

            @rpc(strict=False)
            async def on_note(self, message: Note, ctx: MessageContext) -> int:
                return message.text  # type: ignore[return-value]

        class Audited(Echo):
            async def on_message_impl(self, message: Any, ctx: MessageContext) -> Any:
                seen.append(type(message).__name__)
                return await super().on_message_impl(message, ctx)

        await Liar.register(runtime, "liar", Liar)
        await Audited.register(runtime, "audited", Audited)
        with pytest.raises(ValueError, match="Return type"):
            await runtime.send_message(Ping("x"), AgentId("liar", "k"))
        assert await runtime.send_message(Note("y"), AgentId("liar", "k")) == "y"
        reply = await runtime.send_message(Ping("z"), AgentId("audited", "k"))
        assert reply == Pong("z from none to audited/k") and seen == ["Ping"]

    async def test_closure_agent_and_instantiation_context(self, runtime: MessageRuntime) -> None:
        made: list[AgentId] = []

        class Named(RoutedAgent):
            def __init__(self) -> None:
                made.append(AgentInstantiationContext.current_agent_id())
                super().__init__("named")

            @rpc
            async def on_ping(self, message: Ping, ctx: MessageContext) -> str:
                return str(self.id)

        await Named.register(runtime, "named", Named)
        assert await runtime.send_message(Ping("x"), AgentId("named", "one")) == "named/one"
        assert made == [AgentId("named", "one")]
        assert await runtime.get("named", "two", lazy=False) == AgentId("named", "two")
        assert made == [AgentId("named", "one"), AgentId("named", "two")]
        assert await runtime.get(AgentType("named"), "three") == AgentId("named", "three")
        assert len(made) == 2  # lazy: not created
        meta = await runtime.agent_metadata(AgentId("named", "one"))
        assert meta == {"type": "named", "key": "one", "description": "named"}

    # ------------------------------------------------------------------ publish

    async def test_type_subscription_maps_source_to_key(self, runtime: MessageRuntime) -> None:
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        await ClosureAgent.register_closure(runtime, "col", collector(queue))
        await runtime.add_subscription(TypeSubscription("news", "col"))
        await runtime.publish_message(Note("a"), TopicId("news", "s1"))
        await runtime.publish_message(Note("b"), TopicId("news", "s2"))
        await runtime.publish_message(Note("ignored"), TopicId("other", "s1"))
        got = sorted(await drain(queue, 2), key=lambda x: x[0])
        assert got == [("col/s1", Note("a")), ("col/s2", Note("b"))]
        await runtime.publish_message(Note("c"), TopicId("news", "s1"))
        assert await drain(queue, 1) == [("col/s1", Note("c"))]

    async def test_prefix_subscription(self, runtime: MessageRuntime) -> None:
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        await ClosureAgent.register_closure(runtime, "col", collector(queue))
        await runtime.add_subscription(TypePrefixSubscription("audit.", "col"))
        await runtime.publish_message(Note("x"), TopicId("audit.login", "u1"))
        await runtime.publish_message(Note("skip"), TopicId("auditing", "u1"))
        await runtime.publish_message(Note("y"), TopicId("audit.logout", "u2"))
        got = sorted(await drain(queue, 2), key=lambda x: x[0])
        assert got == [("col/u1", Note("x")), ("col/u2", Note("y"))]

    async def test_default_subscription_and_default_topic(self, runtime: MessageRuntime) -> None:
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        @default_subscription
        class Listener(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("listens on default")

            @event
            async def on_note(self, message: Note, ctx: MessageContext) -> None:
                await queue.put((str(self.id), message))

        @type_subscription("alerts")
        class Alerts(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("listens on alerts")

            @event
            async def on_note(self, message: Note, ctx: MessageContext) -> None:
                await queue.put((str(self.id), message))

        await Listener.register(runtime, "listener", Listener)
        await Alerts.register(runtime, "alerts", Alerts)
        await ClosureAgent.register_closure(
            runtime, "closure", collector(queue), subscriptions=lambda: [DefaultSubscription()]
        )
        await runtime.publish_message(Note("hello"), DefaultTopicId())
        got = sorted(await drain(queue, 2), key=lambda x: x[0])
        assert got == [("closure/default", Note("hello")), ("listener/default", Note("hello"))]
        await runtime.publish_message(Note("fire"), DefaultTopicId("alerts", "zone"))
        assert await drain(queue, 1) == [("alerts/zone", Note("fire"))]

    async def test_default_topic_inside_handler_uses_agent_key(
        self, runtime: MessageRuntime
    ) -> None:
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        class Announcer(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("announces")

            @rpc
            async def on_ping(self, message: Ping, ctx: MessageContext) -> None:
                await self.publish_message(Note(message.text), DefaultTopicId("ann"))

        await Announcer.register(runtime, "announcer", Announcer)
        await ClosureAgent.register_closure(runtime, "col", collector(queue))
        await runtime.add_subscription(TypeSubscription("ann", "col"))
        await runtime.send_message(Ping("x"), AgentId("announcer", "room7"))
        assert await drain(queue, 1) == [("col/room7", Note("x"))]

    async def test_publish_skips_the_sender_and_direct_topic_prefix(
        self, runtime: MessageRuntime
    ) -> None:
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        await ClosureAgent.register_closure(runtime, "col", collector(queue))
        await runtime.add_subscription(TypeSubscription("room", "col"))
        await runtime.publish_message(
            Note("self"), TopicId("room", "a"), sender=AgentId("col", "a")
        )
        # "col:" prefix subscription (added by register) reaches the agent directly
        await runtime.publish_message(Note("direct"), TopicId("col:", "b"))
        assert await drain(queue, 1) == [("col/b", Note("direct"))]
        assert queue.empty()

    async def test_remove_subscription(self, runtime: MessageRuntime) -> None:
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        await ClosureAgent.register_closure(runtime, "col", collector(queue))
        sub = TypeSubscription("t", "col")
        await runtime.add_subscription(sub)
        with pytest.raises(ValueError):
            await runtime.add_subscription(TypeSubscription("t", "col"))
        await runtime.publish_message(Note("1"), TopicId("t", "k"))
        assert await drain(queue, 1) == [("col/k", Note("1"))]
        await runtime.remove_subscription(sub.id)
        with pytest.raises(ValueError):
            await runtime.remove_subscription(sub.id)
        await runtime.add_subscription(TypeSubscription("u", "col"))
        await runtime.publish_message(Note("2"), TopicId("t", "k"))
        await runtime.publish_message(Note("3"), TopicId("u", "k"))
        assert await drain(queue, 1) == [("col/k", Note("3"))]

    # ------------------------------------------------------------------ proxy and state

    async def test_agent_proxy(self, runtime: MessageRuntime) -> None:
        await Echo.register(runtime, "echo", Echo)
        proxy = AgentProxy(AgentId("echo", "p"), runtime)
        assert proxy.id == AgentId("echo", "p")
        reply = await proxy.send_message(Ping("yo"), sender=AgentId("me", "1"))
        assert reply == Pong("yo from me/1 to echo/p")
        assert (await proxy.metadata)["description"] == "echoes pings"
        assert await proxy.save_state() == {"seen": ["yo"]}
        await proxy.load_state({"seen": ["a", "b"]})
        assert await proxy.save_state() == {"seen": ["a", "b"]}

    async def test_save_and_load_state(self, runtime: MessageRuntime) -> None:
        await Echo.register(runtime, "echo", Echo)
        await runtime.send_message(Ping("one"), AgentId("echo", "a"))
        await runtime.send_message(Ping("two"), AgentId("echo", "b"))
        state = await runtime.save_state()
        assert state["echo/a"] == {"seen": ["one"]} and state["echo/b"] == {"seen": ["two"]}
        await runtime.agent_load_state(AgentId("echo", "a"), {"seen": ["x"]})
        assert await runtime.agent_save_state(AgentId("echo", "a")) == {"seen": ["x"]}
        await runtime.load_state({**state, "unknown/k": {"seen": []}})
        assert await runtime.agent_save_state(AgentId("echo", "a")) == {"seen": ["one"]}

    # ------------------------------------------------------------------ serializers

    async def test_serializers(self, runtime: MessageRuntime) -> None:
        (dc,) = try_get_known_serializers_for_type(Ping)
        assert dc.data_content_type == JSON_DATA_CONTENT_TYPE and dc.type_name == "Ping"
        assert dc.deserialize(dc.serialize(Ping("x"))) == Ping("x")
        (pm,) = try_get_known_serializers_for_type(Model)
        assert pm.deserialize(pm.serialize(Model(name="n", size=2))) == Model(name="n", size=2)
        assert try_get_known_serializers_for_type(object) == []
        (text,) = try_get_known_serializers_for_type(str)
        assert text.deserialize(text.serialize("hé")) == "hé"
        runtime.add_message_serializer(try_get_known_serializers_for_type(Model))

        class ModelAgent(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("models")

            @rpc
            async def grow(self, message: Model, ctx: MessageContext) -> Model:
                return Model(name=message.name, size=message.size + 1)

        await ModelAgent.register(runtime, "models", ModelAgent)
        reply = await runtime.send_message(Model(name="m", size=1), AgentId("models", "k"))
        assert reply == Model(name="m", size=2)

    # ------------------------------------------------------------------ interventions

    async def test_intervention_handlers(self, runtime_factory: RuntimeFactory) -> None:
        log: list[str] = []

        class Interceptor(DefaultInterventionHandler):
            async def on_send(
                self, message: Any, *, message_context: MessageContext, recipient: AgentId
            ) -> Any:
                log.append(f"send {type(message).__name__} to {recipient}")
                if isinstance(message, Ping) and message.text == "drop":
                    return DropMessage
                if isinstance(message, Ping):
                    return Ping(message.text + "!")
                return message

            async def on_publish(self, message: Any, *, message_context: MessageContext) -> Any:
                log.append(f"publish {message_context.topic_id}")
                if isinstance(message, Note) and message.text == "drop":
                    return DropMessage
                return message

            async def on_response(
                self, message: Any, *, sender: AgentId, recipient: AgentId | None
            ) -> Any:
                log.append(f"response from {sender}")
                if isinstance(message, Pong) and "secret" in message.text:
                    return DropMessage
                return message

        runtime = await runtime_factory([Interceptor()])
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        await Echo.register(runtime, "echo", Echo)
        await ClosureAgent.register_closure(runtime, "col", collector(queue))
        await runtime.add_subscription(TypeSubscription("t", "col"))
        assert await runtime.send_message(Ping("hi"), AgentId("echo", "k")) == Pong(
            "hi! from none to echo/k"
        )
        with pytest.raises(MessageDroppedException):
            await runtime.send_message(Ping("drop"), AgentId("echo", "k"))
        with pytest.raises(MessageDroppedException):
            await runtime.send_message(Ping("secret"), AgentId("echo", "k"))
        await runtime.publish_message(Note("drop"), TopicId("t", "k"))
        await runtime.publish_message(Note("keep"), TopicId("t", "k"))
        assert await drain(queue, 1) == [("col/k", Note("keep"))]
        assert log[:3] == ["send Ping to echo/k", "response from echo/k", "send Ping to echo/k"]
        assert "publish t/k" in log


class CustomAgent(BaseAgent):
    """A BaseAgent subclass used by tests that need on_message_impl directly."""

    def __init__(self) -> None:
        super().__init__("custom")

    async def on_message_impl(self, message: Any, ctx: MessageContext) -> Any:
        return message


__all__ = ["CustomAgent", "RuntimeContract", "RuntimeFactory"]
