"""Messages per second through the whole AgentRuntime, against the bare core runtime.

Every case runs in this one process, one after the other, on the same event loop policy:

- ``core``: the bare ``SingleThreadedAgentRuntime``: ``send_message`` to an echo agent keyed by
  conversation (what the runner adds its work on top of);
- ``runner/memory``: the whole runner (InMemoryConnector in, validation, loop guards, journal,
  per-conversation mailbox, conversation actor, routing, reply claim, delivery) with the
  in-process ``InMemoryStore``: the journal off;
- ``runner/sqlite``: the same with the durable ``SQLiteStore`` journal (WAL, group commit),
  with ``synchronous=FULL`` (the default: fsync per commit) and ``NORMAL``.

Concurrent: N messages over C conversations, pushed by C concurrent tasks (one per
conversation, each pushing its messages in order). Sequential: one message at a time, each
pushed after the previous reply arrived (no concurrency for group commit to use).

Usage: ``python bench/bench_runner.py [--quick] [--messages N] [--conversations C]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_runner import AgentContext, AgentRuntime, Message
from agent_runner.core import (
    AgentId,
    MessageContext,
    RoutedAgent,
    SingleThreadedAgentRuntime,
    rpc,
)
from agent_runner.store import InMemoryStore, SQLiteStore, Store
from connectors.inmemory import InMemoryConnector


@dataclass
class EchoRequest:
    text: str


class EchoAgent(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("echo")

    @rpc
    async def on_echo(self, message: EchoRequest, ctx: MessageContext) -> str:
        return message.text


@dataclass(frozen=True)
class Run:
    messages: int
    wall: float
    cpu: float
    """Process CPU seconds (all threads): steadier than wall time on a busy machine."""

    @property
    def rate(self) -> float:
        return self.messages / self.wall

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.messages * 1e6


async def echo(message: Message, context: AgentContext) -> str:
    return message.text


async def bench_core(messages: int, conversations: int, *, sequential: bool) -> Run:
    runtime = SingleThreadedAgentRuntime()
    await EchoAgent.register(runtime, "echo", EchoAgent)
    runtime.start()
    per = messages // conversations

    async def one_conversation(c: int) -> None:
        recipient = AgentId("echo", f"c{c}")
        for i in range(per):
            await runtime.send_message(EchoRequest(f"m{i}"), recipient)

    began, cpu = time.perf_counter(), time.process_time()
    if sequential:
        recipient = AgentId("echo", "c0")
        for i in range(messages):
            await runtime.send_message(EchoRequest(f"m{i}"), recipient)
    else:
        await asyncio.gather(*(one_conversation(c) for c in range(conversations)))
    result = Run(messages, time.perf_counter() - began, time.process_time() - cpu)
    await runtime.stop()
    return result


async def bench_runner(store: Store, messages: int, conversations: int, *, sequential: bool) -> Run:
    chat = InMemoryConnector()
    runtime = AgentRuntime(
        [chat],
        [chat],
        echo,
        store=store,
        handle_signals=False,
        max_concurrency=conversations,
    )
    task = asyncio.create_task(runtime.run())
    await runtime.wait_started()
    per = messages // conversations

    async def one_conversation(c: int) -> None:
        for i in range(per):
            await chat.push(f"m{i}", conversation_id=f"c{c}")

    began, cpu = time.perf_counter(), time.process_time()
    if sequential:
        for i in range(messages):
            await chat.push(f"m{i}", conversation_id="c0")
            await chat.wait_for_replies(i + 1, timeout=60)
    else:
        await asyncio.gather(*(one_conversation(c) for c in range(conversations)))
        await chat.wait_for_replies(per * conversations, timeout=600)
    result = Run(per * conversations, time.perf_counter() - began, time.process_time() - cpu)
    await runtime.stop()
    await task
    assert len(chat.sent) == per * conversations
    return result


CASES = (
    "core (bare runtime)",
    "runner/memory (journal off)",
    "runner/sqlite NORMAL",
    "runner/sqlite FULL",
)


async def measure(case: str, db: Path, count: int, conversations: int, sequential: bool) -> Run:
    gc.collect()
    if case == CASES[0]:
        return await bench_core(count, conversations, sequential=sequential)
    if case == CASES[1]:
        store: Store = InMemoryStore()
    else:
        sync = case.rsplit(" ", 1)[1]
        path = db / f"{sync}-{time.monotonic_ns()}.sqlite3"
        store = SQLiteStore(path, synchronous="FULL" if sync == "FULL" else "NORMAL")
    return await bench_runner(store, count, conversations, sequential=sequential)


async def main(args: Any) -> None:
    n, c, seq, repeat = args.messages, args.conversations, args.sequential_messages, args.repeat
    print(f"best of {repeat} run(s) per case, cases interleaved")
    with tempfile.TemporaryDirectory() as tmp:
        for title, count, convs, sequential in (
            (f"concurrent: {n:,} messages over {c} conversations", n, c, False),
            (f"sequential: {seq:,} messages, one at a time", seq, 1, True),
        ):
            print(title, flush=True)
            best = dict.fromkeys(CASES, 0.0)
            cpu = dict.fromkeys(CASES, float("inf"))
            for _ in range(repeat):
                for case in CASES:
                    run = await measure(case, Path(tmp), count, convs, sequential)
                    best[case] = max(best[case], run.rate)
                    cpu[case] = min(cpu[case], run.cpu_us)
            for case in CASES:
                print(f"  {case:<32} {best[case]:>10,.0f} msgs/s {cpu[case]:>8,.0f} CPU us/msg")
            core, off = best[CASES[0]], best[CASES[1]]
            print(f"  {'runner/memory / core':<32} {off / core:>10.2f}")
            for case in CASES[2:]:
                ratio = best[case] / off
                verdict = "meets" if ratio >= 0.5 else "MISSES"
                label = case.replace("runner/", "") + " / journal off"
                print(f"  {label:<32} {ratio:>10.2f}  ({verdict} the >= 0.50 target)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages (a smoke run)")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--sequential-messages", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (best is kept)")
    parsed = parser.parse_args()
    if parsed.quick:
        parsed.messages, parsed.sequential_messages, parsed.repeat = 2_000, 100, 1
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(parsed))
