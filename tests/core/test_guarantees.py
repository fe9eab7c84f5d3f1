"""SingleThreadedAgentRuntime's extras: deactivation, backpressure, strict serialization,
tracing only when asked."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import textwrap
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent_runner.core import (
    AgentId,
    ClosureAgent,
    ClosureContext,
    MessageContext,
    RoutedAgent,
    SerializationError,
    SingleThreadedAgentRuntime,
    TopicId,
    TypeSubscription,
    rpc,
    try_get_known_serializers_for_type,
)

WAIT = 5.0


@dataclass
class Add:
    n: int


class Unregistered:
    """A message type without any serializer."""


class Tally(RoutedAgent):
    created = 0
    closed: list[str] = []
    closing = asyncio.Event()

    def __init__(self) -> None:
        super().__init__("keeps a running total")
        Tally.created += 1
        self.total = 0

    @rpc
    async def on_add(self, message: Add, ctx: MessageContext) -> int:
        self.total += message.n
        return self.total

    async def save_state(self) -> Mapping[str, Any]:
        return {"total": self.total}

    async def load_state(self, state: Mapping[str, Any]) -> None:
        self.total = state["total"]

    async def close(self) -> None:
        Tally.closed.append(self.id.key)
        Tally.closing.set()


@pytest.fixture(autouse=True)
def _reset_tally() -> None:
    Tally.created = 0
    Tally.closed = []
    Tally.closing = asyncio.Event()


async def wait_closed(count: int) -> None:
    async with asyncio.timeout(WAIT):
        while len(Tally.closed) < count:
            await Tally.closing.wait()
            Tally.closing.clear()


async def test_max_active_agents_deactivates_lru_and_restores_state() -> None:
    runtime = SingleThreadedAgentRuntime(max_active_agents=2)
    await Tally.register(runtime, "tally", Tally)
    runtime.start()
    for key in ("a", "b", "c"):
        assert await runtime.send_message(Add(1), AgentId("tally", key)) == 1
    await wait_closed(1)
    assert Tally.closed == ["a"] and runtime.active_agents_count == 2
    # "a" comes back with its state
    assert await runtime.send_message(Add(5), AgentId("tally", "a")) == 6
    assert Tally.created == 4
    state = await runtime.save_state()
    assert state == {"tally/a": {"total": 6}, "tally/b": {"total": 1}, "tally/c": {"total": 1}}
    await runtime.close()


async def test_idle_timeout_deactivates_and_reactivates() -> None:
    runtime = SingleThreadedAgentRuntime(idle_timeout=0.02)
    await Tally.register(runtime, "tally", Tally)
    runtime.start()
    assert await runtime.send_message(Add(3), AgentId("tally", "k")) == 3
    await wait_closed(1)
    assert Tally.closed == ["k"] and runtime.active_agents_count == 0
    assert await runtime.agent_save_state(AgentId("tally", "k")) == {"total": 3}
    assert await runtime.send_message(Add(4), AgentId("tally", "k")) == 7
    await runtime.close()


async def test_deactivated_agents_are_released() -> None:
    runtime = SingleThreadedAgentRuntime(max_active_agents=1)
    await Tally.register(runtime, "tally", Tally)
    runtime.start()
    await runtime.send_message(Add(1), AgentId("tally", "a"))
    agent = await runtime.try_get_underlying_agent_instance(AgentId("tally", "a"), Tally)
    first = weakref.ref(agent)
    del agent
    await runtime.send_message(Add(1), AgentId("tally", "b"))
    await wait_closed(1)
    gc.collect()
    assert first() is None
    assert runtime.active_agents_count == 1
    await runtime.close()


async def test_agents_with_running_concurrent_handlers_stay_active() -> None:
    gate = asyncio.Event()
    started = asyncio.Event()

    class Parallel(RoutedAgent):
        concurrent_handling = True

        def __init__(self) -> None:
            super().__init__("handles adds concurrently")
            self.total = 0

        @rpc
        async def on_add(self, message: Add, ctx: MessageContext) -> int:
            if message.n == 0:
                started.set()
                await gate.wait()
            self.total += message.n
            return self.total

        async def close(self) -> None:
            Tally.closed.append(self.id.key)
            Tally.closing.set()

    runtime = SingleThreadedAgentRuntime(max_active_agents=1)
    await Parallel.register(runtime, "par", Parallel)
    runtime.start()
    waiting = asyncio.ensure_future(runtime.send_message(Add(0), AgentId("par", "a")))
    await started.wait()
    assert await runtime.send_message(Add(1), AgentId("par", "b")) == 1
    for _ in range(5):
        await asyncio.sleep(0)
    assert "a" not in Tally.closed
    gate.set()
    async with asyncio.timeout(WAIT):
        assert await waiting == 0
    await runtime.send_message(Add(1), AgentId("par", "c"))
    await wait_closed(1)
    await runtime.close()


async def test_registered_instances_are_never_deactivated() -> None:
    runtime = SingleThreadedAgentRuntime(max_active_agents=1)
    await Tally.register(runtime, "tally", Tally)
    runtime.start()
    # created outside a factory: bound by register_instance
    fixed = Tally()
    await fixed.register_instance(runtime, AgentId("fixed", "one"))
    await runtime.send_message(Add(1), AgentId("fixed", "one"))
    for key in "abc":
        await runtime.send_message(Add(1), AgentId("tally", key))
    await wait_closed(2)
    assert sorted(Tally.closed) == ["a", "b"] and runtime.active_agents_count == 2
    assert await runtime.send_message(Add(1), AgentId("fixed", "one")) == 2
    await runtime.close()


async def test_backpressure_makes_outside_senders_wait() -> None:
    runtime = SingleThreadedAgentRuntime(max_queued_messages=3)
    gate = asyncio.Event()
    handled: list[int] = []

    async def slow(ctx: ClosureContext, message: Add, mctx: MessageContext) -> None:
        await gate.wait()
        handled.append(message.n)

    await ClosureAgent.register_closure(
        runtime, "slow", slow, subscriptions=lambda: [TypeSubscription("t", "slow")]
    )
    runtime.start()
    # the first is taken by the handler (blocked on the gate), the next 3 fill the queue
    for n in range(4):
        await runtime.publish_message(Add(n), TopicId("t", "k"))
    assert runtime.unprocessed_messages_count == 3
    blocked = asyncio.ensure_future(runtime.publish_message(Add(4), TopicId("t", "k")))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not blocked.done()
    assert runtime.unprocessed_messages_count == 3
    gate.set()
    async with asyncio.timeout(WAIT):
        await blocked
        await runtime.stop_when_idle()
    assert handled == [0, 1, 2, 3, 4]
    await runtime.close()


async def test_backpressure_never_blocks_handlers() -> None:
    runtime = SingleThreadedAgentRuntime(max_queued_messages=1)
    seen: list[int] = []

    async def fan(ctx: ClosureContext, message: Add, mctx: MessageContext) -> None:
        seen.append(message.n)
        if message.n == 0:
            for n in range(1, 6):  # more than the bound, to itself: must not deadlock
                await ctx.publish_message(Add(n), TopicId("t", "other"))

    await ClosureAgent.register_closure(
        runtime, "fan", fan, subscriptions=lambda: [TypeSubscription("t", "fan")]
    )
    runtime.start()
    await runtime.publish_message(Add(0), TopicId("t", "k"))
    async with asyncio.timeout(WAIT):
        await runtime.stop_when_idle()
    assert seen == [0, 1, 2, 3, 4, 5]
    await runtime.close()


async def test_stop_releases_waiting_senders() -> None:
    runtime = SingleThreadedAgentRuntime(max_queued_messages=1)

    async def forever(ctx: ClosureContext, message: Add, mctx: MessageContext) -> None:
        await asyncio.Event().wait()

    await ClosureAgent.register_closure(
        runtime, "f", forever, subscriptions=lambda: [TypeSubscription("t", "f")]
    )
    runtime.start()
    await runtime.publish_message(Add(0), TopicId("t", "k"))
    await runtime.publish_message(Add(1), TopicId("t", "k"))
    blocked = asyncio.ensure_future(runtime.publish_message(Add(2), TopicId("t", "k")))
    await asyncio.sleep(0)
    await runtime.stop()
    from agent_runner.core import RuntimeStoppedError

    with pytest.raises(RuntimeStoppedError):
        await blocked
    await runtime.close()


async def test_strict_serialization() -> None:
    runtime = SingleThreadedAgentRuntime(strict_serialization=True)
    await Tally.register(runtime, "tally", Tally)  # registers Add's serializer

    async def anything(ctx: ClosureContext, message: Any, mctx: MessageContext) -> Any:
        return Unregistered() if isinstance(message, Add) else None

    await ClosureAgent.register_closure(runtime, "any", anything)
    runtime.start()
    assert await runtime.send_message(Add(2), AgentId("tally", "k")) == 2
    with pytest.raises(SerializationError):
        await runtime.send_message(Unregistered(), AgentId("tally", "k"))
    with pytest.raises(SerializationError):
        await runtime.publish_message(Unregistered(), TopicId("t", "k"))
    with pytest.raises(SerializationError):  # the reply too
        await runtime.send_message(Add(1), AgentId("any", "k"))
    runtime.add_message_serializer(try_get_known_serializers_for_type(Add))
    await runtime.close()


async def test_lenient_serialization_by_default() -> None:
    runtime = SingleThreadedAgentRuntime()

    async def anything(ctx: ClosureContext, message: Any, mctx: MessageContext) -> Any:
        return message

    await ClosureAgent.register_closure(runtime, "any", anything)
    runtime.start()
    message = Unregistered()
    assert await runtime.send_message(message, AgentId("any", "k")) is message
    await runtime.close()


async def test_spans_only_with_a_tracer_provider() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    runtime = SingleThreadedAgentRuntime(tracer_provider=provider)
    await Tally.register(runtime, "tally", Tally)
    runtime.start()
    assert await runtime.send_message(Add(1), AgentId("tally", "k")) == 1
    await runtime.stop_when_idle()
    names = sorted(span.name for span in exporter.get_finished_spans())
    assert names == ["create tally/k", "process tally/k"]
    spans = {span.name: span for span in exporter.get_finished_spans()}
    create, process = spans["create tally/k"], spans["process tally/k"]
    assert process.parent is not None and create.context is not None
    assert process.parent.span_id == create.context.span_id
    exporter.clear()
    runtime.start()
    await runtime.add_subscription(TypeSubscription("adds", "tally"))
    await runtime.publish_message(Add(2), TopicId("adds", "k"))
    await runtime.stop_when_idle()
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert sorted(spans) == ["process tally/k", "publish adds/k"]
    publish, process = spans["publish adds/k"], spans["process tally/k"]
    assert process.parent is not None and publish.context is not None
    assert process.parent.span_id == publish.context.span_id
    await runtime.close()
    provider.shutdown()


def test_opentelemetry_is_not_imported_without_a_provider() -> None:
    code = textwrap.dedent(
        """
        import asyncio, sys
        from agent_runner.core import AgentId, ClosureAgent, SingleThreadedAgentRuntime

        async def echo(ctx, message: str, mctx) -> str:
            return message

        async def main():
            runtime = SingleThreadedAgentRuntime()
            await ClosureAgent.register_closure(runtime, "echo", echo)
            runtime.start()
            assert await runtime.send_message("x", AgentId("echo", "k")) == "x"
            await runtime.close()

        asyncio.run(main())
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"
