"""Runtime contract, part two: actor turns, reentrancy and cancellation."""

from __future__ import annotations

import asyncio

import pytest

from agent_runner.core import (
    AgentId,
    CancellationToken,
    ClosureAgent,
    ClosureContext,
    MessageContext,
    MessageRuntime,
    RoutedAgent,
    TopicId,
    TypeSubscription,
    message_handler,
    rpc,
)
from tests.core.contract_support import WAIT, Ask, Ping, Step


class TurnsContract:
    # ------------------------------------------------------------------ actor turns

    async def test_one_message_at_a_time_in_arrival_order(self, runtime: MessageRuntime) -> None:
        trace: list[str] = []
        running = 0
        overlap = False

        class Serial(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("serial")

            @rpc
            async def on_step(self, message: Step, ctx: MessageContext) -> int:
                nonlocal running, overlap
                running += 1
                overlap = overlap or running > 1
                trace.append(f"start {message.index}")
                for _ in range(3):
                    await asyncio.sleep(0)
                trace.append(f"end {message.index}")
                running -= 1
                return message.index

        await Serial.register(runtime, "serial", Serial)
        target = AgentId("serial", "k")
        calls = [asyncio.ensure_future(runtime.send_message(Step(i), target)) for i in range(20)]
        async with asyncio.timeout(WAIT):
            assert await asyncio.gather(*calls) == list(range(20))
        assert not overlap
        assert trace == [f"{what} {i}" for i in range(20) for what in ("start", "end")]

    async def test_sends_and_publishes_keep_arrival_order(self, runtime: MessageRuntime) -> None:
        handled: list[int] = []
        done = asyncio.Event()

        class Log(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("logs steps in order")

            @message_handler
            async def on_step(self, message: Step, ctx: MessageContext) -> int:
                await asyncio.sleep(0)
                handled.append(message.index)
                if len(handled) == 30:
                    done.set()
                return message.index

        await Log.register(runtime, "log", Log)
        await runtime.add_subscription(TypeSubscription("steps", "log"))
        target = AgentId("log", "k")
        calls = []
        for i in range(30):
            if i % 3 == 0:
                await runtime.publish_message(Step(i), TopicId("steps", "k"))
            else:
                calls.append(asyncio.ensure_future(runtime.send_message(Step(i), target)))
                await asyncio.sleep(0)  # the send is in the mailbox before the next message
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*calls)
            await done.wait()
        assert handled == list(range(30))

    async def test_different_keys_run_concurrently(self, runtime: MessageRuntime) -> None:
        both_in = asyncio.Event()
        arrived = 0

        class Meet(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("waits for the other key")

            @rpc
            async def on_step(self, message: Step, ctx: MessageContext) -> int:
                nonlocal arrived
                arrived += 1
                if arrived == 2:
                    both_in.set()
                await both_in.wait()
                return message.index

        await Meet.register(runtime, "meet", Meet)
        async with asyncio.timeout(WAIT):
            got = list(
                await asyncio.gather(
                    runtime.send_message(Step(1), AgentId("meet", "a")),
                    runtime.send_message(Step(2), AgentId("meet", "b")),
                )
            )
        assert got == [1, 2]

    async def test_concurrent_handling_opt_in(self, runtime: MessageRuntime) -> None:
        both_in = asyncio.Event()
        arrived = 0

        class Parallel(RoutedAgent):
            concurrent_handling = True

            def __init__(self) -> None:
                super().__init__("handles concurrently")

            @rpc
            async def on_step(self, message: Step, ctx: MessageContext) -> int:
                nonlocal arrived
                arrived += 1
                if arrived == 2:
                    both_in.set()
                await both_in.wait()
                return message.index

        await Parallel.register(runtime, "par", Parallel)
        target = AgentId("par", "same")
        async with asyncio.timeout(WAIT):
            got = list(
                await asyncio.gather(
                    runtime.send_message(Step(1), target), runtime.send_message(Step(2), target)
                )
            )
        assert got == [1, 2]

    async def test_reentrant_call_chains_do_not_deadlock(self, runtime: MessageRuntime) -> None:
        class PingPong(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("bounces asks between a and b, and to itself")
                self.handled = 0

            @rpc
            async def on_ask(self, message: Ask, ctx: MessageContext) -> list[str]:
                self.handled += 1
                if message.hops == 0:
                    return [str(self.id)]
                other = "b" if self.id.key == "a" else "a"
                target = self.id if message.hops % 3 == 0 else AgentId("pp", other)
                rest: list[str] = await self.send_message(Ask(message.hops - 1), target)
                return [str(self.id), *rest]

        await PingPong.register(runtime, "pp", PingPong)
        async with asyncio.timeout(WAIT):
            path = await runtime.send_message(Ask(5), AgentId("pp", "a"))
        assert path == ["pp/a", "pp/b", "pp/a", "pp/a", "pp/b", "pp/a"]

    async def test_parallel_calls_that_call_back_do_not_deadlock(
        self, runtime: MessageRuntime
    ) -> None:
        class Hub(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("asks two spokes at once")

            @rpc
            async def on_ask(self, message: Ask, ctx: MessageContext) -> list[str]:
                if message.hops == 0:
                    return ["hub"]
                replies = await asyncio.gather(
                    self.send_message(Ask(0), AgentId("spoke", "1")),
                    self.send_message(Ask(0), AgentId("spoke", "2")),
                )
                return [item for reply in replies for item in reply]

        class Spoke(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("calls the hub back")

            @rpc
            async def on_ask(self, message: Ask, ctx: MessageContext) -> list[str]:
                back: list[str] = await self.send_message(Ask(0), AgentId("hub", "h"))
                return [f"spoke {self.id.key}", *back]

        await Hub.register(runtime, "hub", Hub)
        await Spoke.register(runtime, "spoke", Spoke)
        async with asyncio.timeout(WAIT):
            got = await runtime.send_message(Ask(1), AgentId("hub", "h"))
        assert got == ["spoke 1", "hub", "spoke 2", "hub"]

    async def test_turns_hold_after_a_reentrant_chain(self, runtime: MessageRuntime) -> None:
        order: list[str] = []
        release = asyncio.Event()

        class A(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("a")

            @rpc
            async def on_ask(self, message: Ask, ctx: MessageContext) -> str:
                if message.hops == 1:  # called back by b inside the chain
                    return "inner"
                order.append(f"start {message.hops}")
                if message.hops == 2:
                    await release.wait()
                    got: str = await self.send_message(Ask(0), AgentId("b", "k"))
                else:
                    got = "plain"
                order.append(f"end {message.hops}")
                return got

        class B(RoutedAgent):
            def __init__(self) -> None:
                super().__init__("b")

            @rpc
            async def on_ask(self, message: Ask, ctx: MessageContext) -> str:
                reply: str = await self.send_message(Ask(1), AgentId("a", "k"))
                return "b saw " + reply

        await A.register(runtime, "a", A)
        await B.register(runtime, "b", B)
        first = asyncio.ensure_future(runtime.send_message(Ask(2), AgentId("a", "k")))
        second = asyncio.ensure_future(runtime.send_message(Ask(3), AgentId("a", "k")))
        await asyncio.sleep(0)
        release.set()
        async with asyncio.timeout(WAIT):
            assert await first == "b saw inner"
            assert await second == "plain"
        assert order == ["start 2", "end 2", "start 3", "end 3"]

    # ------------------------------------------------------------------ cancellation

    async def test_caller_token_cancels_the_handler_token(self, runtime: MessageRuntime) -> None:
        started = asyncio.Event()
        handler_cancelled = asyncio.Event()

        async def slow(ctx: ClosureContext, message: Ping, mctx: MessageContext) -> str:
            mctx.cancellation_token.add_callback(handler_cancelled.set)
            started.set()
            await handler_cancelled.wait()
            return "cancelled"

        await ClosureAgent.register_closure(runtime, "slow", slow)
        token = CancellationToken()
        call = asyncio.ensure_future(
            runtime.send_message(Ping("x"), AgentId("slow", "k"), cancellation_token=token)
        )
        async with asyncio.timeout(WAIT):
            await started.wait()
            token.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            await handler_cancelled.wait()

    async def test_cancelled_caller_task_cancels_the_handler_token(
        self, runtime: MessageRuntime
    ) -> None:
        started = asyncio.Event()
        handler_cancelled = asyncio.Event()

        async def slow(ctx: ClosureContext, message: Ping, mctx: MessageContext) -> str:
            mctx.cancellation_token.add_callback(handler_cancelled.set)
            started.set()
            await handler_cancelled.wait()
            return "cancelled"

        await ClosureAgent.register_closure(runtime, "slow", slow)
        call = asyncio.ensure_future(runtime.send_message(Ping("x"), AgentId("slow", "k")))
        async with asyncio.timeout(WAIT):
            await started.wait()
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            await handler_cancelled.wait()

    async def test_timeout_around_send_does_not_cancel_a_shared_token(
        self, runtime: MessageRuntime
    ) -> None:
        gate = asyncio.Event()

        async def wait_gate(ctx: ClosureContext, message: Ping, mctx: MessageContext) -> str:
            await gate.wait()
            return message.text

        await ClosureAgent.register_closure(runtime, "gate", wait_gate)
        shared = CancellationToken()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await runtime.send_message(
                    Ping("a"), AgentId("gate", "k1"), cancellation_token=shared
                )
        assert not shared.is_cancelled()
        gate.set()
        async with asyncio.timeout(WAIT):
            reply = await runtime.send_message(
                Ping("b"), AgentId("gate", "k2"), cancellation_token=shared
            )
        assert reply == "b"


__all__ = ["TurnsContract"]
