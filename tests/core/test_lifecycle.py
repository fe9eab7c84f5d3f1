"""SingleThreadedAgentRuntime lifecycle: start/stop, process_next, idle, errors, no hangs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from agent_runner.core import (
    AgentId,
    ClosureAgent,
    ClosureContext,
    DefaultInterventionHandler,
    DropMessage,
    MessageContext,
    MessageHandlerContext,
    RoutedAgent,
    RuntimeStoppedError,
    SingleThreadedAgentRuntime,
    TopicId,
    TypeSubscription,
    event,
    rpc,
)

WAIT = 5.0


@dataclass
class Job:
    n: int


class Counter(RoutedAgent):
    closed = 0

    def __init__(self) -> None:
        super().__init__("counts")
        self.count = 0

    @rpc
    async def on_job(self, message: Job, ctx: MessageContext) -> int:
        self.count += message.n
        return self.count

    @event
    async def on_event(self, message: Job, ctx: MessageContext) -> None:
        self.count += message.n

    async def close(self) -> None:
        Counter.closed += 1


async def test_start_twice_and_stop_unstarted_raise() -> None:
    runtime = SingleThreadedAgentRuntime()
    with pytest.raises(RuntimeError):
        await runtime.stop()
    with pytest.raises(RuntimeError):
        await runtime.stop_when_idle()
    runtime.start()
    with pytest.raises(RuntimeError):
        runtime.start()
    await runtime.stop()
    runtime.start()  # restartable
    await runtime.close()


async def test_messages_sent_before_start_wait_for_start() -> None:
    runtime = SingleThreadedAgentRuntime()
    await Counter.register(runtime, "counter", Counter)
    call = asyncio.ensure_future(runtime.send_message(Job(2), AgentId("counter", "k")))
    await asyncio.sleep(0)
    assert runtime.unprocessed_messages_count == 1
    assert not call.done()
    runtime.start()
    async with asyncio.timeout(WAIT):
        assert await call == 2
    assert runtime.unprocessed_messages_count == 0
    await runtime.stop_when_idle()
    await runtime.close()


async def test_process_next_handles_one_message_at_a_time() -> None:
    runtime = SingleThreadedAgentRuntime()
    await Counter.register(runtime, "counter", Counter)
    await runtime.add_subscription(TypeSubscription("jobs", "counter"))
    await runtime.publish_message(Job(1), TopicId("jobs", "k"))
    call = asyncio.ensure_future(runtime.send_message(Job(10), AgentId("counter", "k")))
    await asyncio.sleep(0)
    assert runtime.unprocessed_messages_count == 2
    await runtime.process_next()
    await runtime.process_next()
    async with asyncio.timeout(WAIT):
        assert await call == 11
    with pytest.raises(RuntimeError):
        runtime.start()
        await runtime.process_next()
    await runtime.stop()
    await runtime.close()


async def test_process_next_waits_for_a_message() -> None:
    runtime = SingleThreadedAgentRuntime()
    await Counter.register(runtime, "counter", Counter)
    step = asyncio.ensure_future(runtime.process_next())
    await asyncio.sleep(0)
    assert not step.done()
    call = asyncio.ensure_future(runtime.send_message(Job(3), AgentId("counter", "k")))
    async with asyncio.timeout(WAIT):
        await step
        assert await call == 3
    await runtime.close()


async def test_stop_fails_rpcs_in_flight_and_queued() -> None:
    runtime = SingleThreadedAgentRuntime()
    started = asyncio.Event()

    async def forever(ctx: ClosureContext, message: Job, mctx: MessageContext) -> int:
        started.set()
        await asyncio.Event().wait()
        return 0

    await ClosureAgent.register_closure(runtime, "forever", forever)
    runtime.start()
    target = AgentId("forever", "k")
    running = asyncio.ensure_future(runtime.send_message(Job(1), target))
    queued = asyncio.ensure_future(runtime.send_message(Job(2), target))
    async with asyncio.timeout(WAIT):
        await started.wait()
        await runtime.stop()
        with pytest.raises(RuntimeStoppedError):
            await running
        with pytest.raises(RuntimeStoppedError):
            await queued
    await runtime.close()


async def test_stop_from_inside_a_handler() -> None:
    runtime = SingleThreadedAgentRuntime()

    async def stopper(ctx: ClosureContext, message: Job, mctx: MessageContext) -> None:
        await runtime.stop()

    await ClosureAgent.register_closure(runtime, "stopper", stopper)
    runtime.start()
    async with asyncio.timeout(WAIT):
        await runtime.send_message(Job(1), AgentId("stopper", "k"))
    await runtime.close()


async def test_stop_when_idle_waits_for_chained_work() -> None:
    runtime = SingleThreadedAgentRuntime()
    seen: list[int] = []

    async def chain(ctx: ClosureContext, message: Job, mctx: MessageContext) -> None:
        seen.append(message.n)
        if message.n:
            await ctx.publish_message(Job(message.n - 1), TopicId("chain", f"k{message.n}"))

    await ClosureAgent.register_closure(
        runtime, "chain", chain, subscriptions=lambda: [TypeSubscription("chain", "chain")]
    )
    runtime.start()
    await runtime.publish_message(Job(5), TopicId("chain", "k"))
    async with asyncio.timeout(WAIT):
        await runtime.stop_when_idle()
    assert seen == [5, 4, 3, 2, 1, 0]
    await runtime.close()


async def test_stop_when_idle_returns_after_a_dropped_message() -> None:
    class DropAll(DefaultInterventionHandler):
        async def on_publish(self, message: Any, *, message_context: MessageContext) -> Any:
            return DropMessage

    runtime = SingleThreadedAgentRuntime(intervention_handlers=[DropAll()])
    await Counter.register(runtime, "counter", Counter)
    await runtime.add_subscription(TypeSubscription("jobs", "counter"))
    runtime.start()
    await runtime.publish_message(Job(1), TopicId("jobs", "k"))
    async with asyncio.timeout(WAIT):
        await runtime.stop_when_idle()
    await runtime.close()


async def test_stop_when_condition() -> None:
    runtime = SingleThreadedAgentRuntime()
    await Counter.register(runtime, "counter", Counter)
    runtime.start()
    done: list[int] = []

    async def work() -> None:
        done.append(await runtime.send_message(Job(4), AgentId("counter", "k")))

    task = asyncio.ensure_future(work())
    async with asyncio.timeout(WAIT):
        await runtime.stop_when(lambda: bool(done))
    await task
    assert done == [4]
    await runtime.close()


async def test_unhandled_event_errors_raise_at_stop_when_not_ignored() -> None:
    runtime = SingleThreadedAgentRuntime(ignore_unhandled_exceptions=False)

    async def broken(ctx: ClosureContext, message: Job, mctx: MessageContext) -> None:
        raise KeyError("bad event")

    await ClosureAgent.register_closure(
        runtime, "broken", broken, subscriptions=lambda: [TypeSubscription("t", "broken")]
    )
    runtime.start()
    await runtime.publish_message(Job(1), TopicId("t", "k"))
    with pytest.raises(KeyError, match="bad event"):
        await runtime.stop_when_idle()
    await runtime.close()


async def test_unhandled_event_errors_are_logged_by_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = SingleThreadedAgentRuntime()

    async def broken(ctx: ClosureContext, message: Job, mctx: MessageContext) -> None:
        raise KeyError("bad event")

    await ClosureAgent.register_closure(
        runtime, "broken", broken, subscriptions=lambda: [TypeSubscription("t", "broken")]
    )
    runtime.start()
    await runtime.publish_message(Job(1), TopicId("t", "k"))
    await runtime.stop_when_idle()
    assert "bad event" in caplog.text
    await runtime.close()


async def test_close_closes_agents_and_factory_errors_reach_callers() -> None:
    runtime = SingleThreadedAgentRuntime()
    Counter.closed = 0
    await Counter.register(runtime, "counter", Counter)

    def broken_factory() -> Counter:
        raise OSError("cannot build")

    await runtime.register_factory("broken", broken_factory)
    runtime.start()
    await runtime.send_message(Job(1), AgentId("counter", "a"))
    await runtime.send_message(Job(1), AgentId("counter", "b"))
    with pytest.raises(OSError, match="cannot build"):
        await runtime.send_message(Job(1), AgentId("broken", "k"))
    await runtime.close()
    assert Counter.closed == 2


async def test_registration_rules() -> None:
    runtime = SingleThreadedAgentRuntime()
    await Counter.register(runtime, "counter", Counter)
    with pytest.raises(ValueError):
        await runtime.register_factory("counter", Counter)
    with pytest.raises(ValueError):
        await runtime.register_agent_instance(Counter(), AgentId("counter", "x"))
    await Counter().register_instance(runtime, AgentId("single", "one"))
    with pytest.raises(ValueError):
        await runtime.register_agent_instance(Counter(), AgentId("single", "one"))
    agent = await runtime.try_get_underlying_agent_instance(AgentId("single", "one"), Counter)
    assert agent.id == AgentId("single", "one")
    with pytest.raises(TypeError):
        await runtime.try_get_underlying_agent_instance(AgentId("single", "one"), ClosureAgent)
    with pytest.raises(LookupError):
        await runtime.try_get_underlying_agent_instance(AgentId("nope", "one"))

    class Other(Counter):
        pass

    await runtime.register_factory("wrong", Other, expected_class=ClosureAgent)  # type: ignore[arg-type]
    runtime.start()
    with pytest.raises(ValueError, match="wrong type"):
        await runtime.send_message(Job(1), AgentId("wrong", "k"))
    assert await runtime.send_message(Job(2), AgentId("single", "one")) == 2
    await runtime.close()


async def test_stop_during_agent_creation_fails_the_caller() -> None:
    runtime = SingleThreadedAgentRuntime()
    creating = asyncio.Event()

    async def slow_factory() -> Counter:
        creating.set()
        await asyncio.Event().wait()
        return Counter()

    await runtime.register_factory("slow", slow_factory)
    runtime.start()
    call = asyncio.ensure_future(runtime.send_message(Job(1), AgentId("slow", "k")))
    async with asyncio.timeout(WAIT):
        await creating.wait()
        await runtime.stop()
        with pytest.raises(RuntimeStoppedError):
            await call
    await runtime.close()


async def test_intervention_errors_reach_the_sender() -> None:
    class Refuse(DefaultInterventionHandler):
        async def on_send(
            self, message: Any, *, message_context: MessageContext, recipient: AgentId
        ) -> Any:
            raise PermissionError("not allowed")

    runtime = SingleThreadedAgentRuntime(intervention_handlers=[Refuse()])
    await Counter.register(runtime, "counter", Counter)
    runtime.start()
    with pytest.raises(PermissionError):
        await runtime.send_message(Job(1), AgentId("counter", "k"))
    await runtime.stop_when_idle()
    await runtime.close()


async def test_agents_do_not_inherit_the_first_senders_context() -> None:
    runtime = SingleThreadedAgentRuntime()
    in_factory: list[str] = []

    def make() -> Counter:
        try:
            in_factory.append(str(MessageHandlerContext.agent_id()))
        except RuntimeError:
            in_factory.append("no handler")
        return Counter()

    async def caller(ctx: ClosureContext, message: Job, mctx: MessageContext) -> int:
        result: int = await ctx.send_message(message, AgentId("counter", "k"))
        return result

    await runtime.register_factory("counter", make)
    await ClosureAgent.register_closure(runtime, "caller", caller)
    runtime.start()
    assert await runtime.send_message(Job(2), AgentId("caller", "c")) == 2
    assert in_factory == ["no handler"]
    await runtime.close()


async def test_process_next_raises_unhandled_event_errors_when_not_ignored() -> None:
    runtime = SingleThreadedAgentRuntime(ignore_unhandled_exceptions=False)

    async def broken(ctx: ClosureContext, message: Job, mctx: MessageContext) -> None:
        raise KeyError("bad event")

    await ClosureAgent.register_closure(
        runtime, "broken", broken, subscriptions=lambda: [TypeSubscription("t", "broken")]
    )
    await runtime.publish_message(Job(1), TopicId("t", "k"))
    await runtime.publish_message(Job(2), TopicId("t", "k"))
    await runtime.process_next()
    await asyncio.sleep(0)
    with pytest.raises(KeyError, match="bad event"):
        await runtime.process_next()
    await runtime.close()
