"""autogen-core usage patterns, ported by changing only the import (seed 004's example)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from agent_runner.core import (
    AgentId,
    AgentInstantiationContext,
    ClosureAgent,
    ClosureContext,
    DefaultInterventionHandler,
    DefaultSubscription,
    DefaultTopicId,
    MessageContext,
    RoutedAgent,
    SingleThreadedAgentRuntime,
    TopicId,
    TypeSubscription,
    event,
    message_handler,
    rpc,
)


@dataclass
class WorkRequest:
    work_id: str
    data: str


@dataclass
class WorkResponse:
    work_id: str
    result: str


@dataclass
class ProgressEvent:
    work_id: str
    progress: float


class Worker(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("Worker agent")

    @rpc
    async def process_work(self, message: WorkRequest, ctx: MessageContext) -> WorkResponse:
        for progress in [0.25, 0.5, 0.75, 1.0]:
            await self.publish_message(
                ProgressEvent(work_id=message.work_id, progress=progress),
                TopicId(type="progress", source=message.work_id),
            )
            await asyncio.sleep(0)
        result = f"Processed: {message.data}"
        return WorkResponse(work_id=message.work_id, result=result)


class Monitor(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("Monitor agent")
        self.progress_log: list[tuple[str, float]] = []

    @event
    async def track_progress(self, message: ProgressEvent, ctx: MessageContext) -> None:
        self.progress_log.append((message.work_id, message.progress))


async def test_worker_and_monitor_example() -> None:
    runtime = SingleThreadedAgentRuntime()
    await Worker.register(runtime, "worker", lambda: Worker())
    await Monitor.register(runtime, "monitor", lambda: Monitor())
    await runtime.add_subscription(TypeSubscription(topic_type="progress", agent_type="monitor"))
    runtime.start()
    try:
        response = await runtime.send_message(
            WorkRequest(work_id="task-1", data="sample data"),
            recipient=AgentId("worker", "default"),
        )
        assert response == WorkResponse("task-1", "Processed: sample data")
    finally:
        await runtime.stop_when_idle()
    monitor = await runtime.try_get_underlying_agent_instance(AgentId("monitor", "task-1"), Monitor)
    # actor turns: the monitor saw the progress events in order
    assert monitor.progress_log == [("task-1", p) for p in (0.25, 0.5, 0.75, 1.0)]
    metadata = await runtime.agent_metadata(AgentId("worker", "default"))
    assert (metadata["type"], metadata["key"], metadata["description"]) == (
        "worker",
        "default",
        "Worker agent",
    )
    await runtime.close()


async def test_register_factory_and_get_lowlevel_api() -> None:
    runtime = SingleThreadedAgentRuntime()
    agent_type = await runtime.register_factory(
        type="my_agent", agent_factory=lambda: Worker(), expected_class=Worker
    )
    assert agent_type.type == "my_agent"
    agent_id = await runtime.get(agent_type, key="instance-1", lazy=True)
    assert agent_id == AgentId("my_agent", "instance-1")
    runtime.start()
    reply = await runtime.send_message(WorkRequest("w", "d"), agent_id)
    assert reply.result == "Processed: d"
    assert runtime.unprocessed_messages_count == 0
    await runtime.stop()
    await runtime.close()


@dataclass
class MyMessage:
    content: str


async def test_closure_agent_output_pattern() -> None:
    # autogen-core's ClosureAgent.register_closure docstring example.
    queue: asyncio.Queue[MyMessage] = asyncio.Queue()

    async def output_result(_ctx: ClosureContext, message: MyMessage, ctx: MessageContext) -> None:
        await queue.put(message)

    runtime = SingleThreadedAgentRuntime()
    await ClosureAgent.register_closure(
        runtime, "output_result", output_result, subscriptions=lambda: [DefaultSubscription()]
    )
    runtime.start()
    await runtime.publish_message(MyMessage("Hello, world!"), DefaultTopicId())
    await runtime.stop_when_idle()
    assert await queue.get() == MyMessage("Hello, world!")
    await runtime.close()


async def test_intervention_handler_pattern() -> None:
    # autogen-core's InterventionHandler docstring example.
    class MyInterventionHandler(DefaultInterventionHandler):
        async def on_send(
            self, message: Any, *, message_context: MessageContext, recipient: AgentId
        ) -> MyMessage:
            if isinstance(message, MyMessage):
                message.content = message.content.upper()
            return message  # type: ignore[no-any-return]

    class Shout(RoutedAgent):
        def __init__(self) -> None:
            super().__init__("returns what it got")

        @message_handler
        async def handle(self, message: MyMessage, ctx: MessageContext) -> str:
            return message.content

    runtime = SingleThreadedAgentRuntime(intervention_handlers=[MyInterventionHandler()])
    await Shout.register(runtime, "shout", Shout)
    runtime.start()
    assert await runtime.send_message(MyMessage("hi"), AgentId("shout", "default")) == "HI"
    await runtime.stop()
    await runtime.close()


async def test_agent_instantiation_context_pattern() -> None:
    # autogen-core's AgentInstantiationContext docstring example.
    seen: list[str] = []

    class TestAgent(RoutedAgent):
        def __init__(self, description: str) -> None:
            super().__init__(description)
            _ = AgentInstantiationContext.current_runtime()
            seen.append(f"ctor {AgentInstantiationContext.current_agent_id()}")

        @message_handler
        async def handle_test_message(self, message: MyMessage, ctx: MessageContext) -> None:
            seen.append(f"got {message.content}")

    def test_agent_factory() -> TestAgent:
        seen.append(f"factory {AgentInstantiationContext.current_agent_id()}")
        return TestAgent(description="Test agent")

    runtime = SingleThreadedAgentRuntime()
    runtime.start()
    await runtime.register_factory("test_agent", test_agent_factory)
    await runtime.send_message(MyMessage("Hello, world!"), AgentId("test_agent", "default"))
    await runtime.stop()
    assert seen == [
        "factory test_agent/default",
        "ctor test_agent/default",
        "got Hello, world!",
    ]
    await runtime.close()


class Loopback(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("A loop back agent.")
        self.num_calls = 0

    @message_handler
    async def on_new_message(self, message: MyMessage, ctx: MessageContext) -> MyMessage:
        self.num_calls += 1
        return message


async def test_agent_type_register_instance_publish_new_source() -> None:
    # autogen-core's test of the same name (test_runtime.py).
    runtime = SingleThreadedAgentRuntime(ignore_unhandled_exceptions=False)
    agent_id = AgentId(type="name", key="default")
    agent1 = Loopback()
    await agent1.register_instance(runtime=runtime, agent_id=agent_id)
    await runtime.add_subscription(TypeSubscription("notdefault", "name"))

    runtime.start()
    with pytest.raises(RuntimeError):
        await runtime.publish_message(MyMessage("x"), TopicId("notdefault", "notdefault"))
        await runtime.stop_when_idle()
    await runtime.close()


async def test_rpc_to_an_event_handler_returns_none() -> None:
    calls: list[str] = []

    class Monitor(RoutedAgent):
        def __init__(self) -> None:
            super().__init__("Monitor agent")

        @event
        async def track(self, message: ProgressEvent, ctx: MessageContext) -> None:
            calls.append(message.work_id)

    runtime = SingleThreadedAgentRuntime()
    await Monitor.register(runtime, "monitor", Monitor)
    runtime.start()
    reply = await runtime.send_message(ProgressEvent("w", 1.0), AgentId("monitor", "default"))
    assert reply is None and calls == []
    await runtime.stop_when_idle()
    await runtime.close()
