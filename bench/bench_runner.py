"""The runner's per-message cost: sequential pushes through AgentRuntime vs a bare asyncio runner.

The workload of issue 13: N messages over C conversations (round-robin), pushed by one input
one message at a time, each push awaiting the sink before the next; the run ends when every
reply was delivered. Every case runs in this one process, the cases interleaved, each on a
fresh runner:

- ``bare``: a bare asyncio runner, the baseline: one ``asyncio.Queue`` and one task per
  conversation, the memory of each conversation a list; its sink validates each message
  once as it arrives from outside (one pydantic ``Message.model_validate``, what any runner
  that refuses bad input does) and queues it (no store);
- ``memory``: ours, ``AgentRuntime`` with ``InMemoryConnector`` in and out, short-term memory
  on (as the bare runner keeps memory per conversation) and ``InMemoryStore``;
- ``sqlite``: the same on the durable ``SQLiteStore`` (WAL, ``synchronous=FULL``): the sink
  returns once the message is journaled.

The input is the same loop for every case: build the message's fields (a fresh id), ``await
sink(fields)``, then yield to the event loop once (``asyncio.sleep(0)``: what reading the next
message from a socket costs at least), so the runner's tasks interleave with the input as they
do in production rather than all messages being queued before the first is handled.

``--breakdown`` adds ``bare-unvalidated`` (the baseline without its validation: a floor that
takes any dict), ``memory-nomem`` and ``sqlite-nomem`` (no short-term memory) and
``sqlite-normal`` (``synchronous=NORMAL``).
``sqlite-pipelined`` (always run) is the same SQLite runner fed by an input whose
acknowledgement nobody outside sees (a gateway, a poll page): it hands each message over
(``InMemoryConnector.hand_over``, a :class:`~agent_runner.handover.Handover`) without
waiting for its commit, and waits until its page is durable every ``--page`` messages
(100), where it would move its cursor.
Two agents: one that answers at once and one that takes 50 ms (LLM-like; the bound is then
``C / 0.05`` msgs/s).

Reported: msgs/s and process CPU per message (all threads, so the SQLite thread counts) of
the median run, and ours / bare per case. ``--profile DIR`` samples every measured run with
``py-spy record`` (raw folded stacks for ``bench/profile_summary.py``; such runs are slower).

Usage: ``python bench/bench_runner.py [--quick] [--messages N] [--conversations C]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent_runner import AgentContext, AgentRuntime, Message, ShortTermMemory  # noqa: E402
from agent_runner.store import InMemoryStore, SQLiteStore, Store  # noqa: E402
from bench._util import py_spy  # noqa: E402
from connectors.inmemory import InMemoryConnector  # noqa: E402

BARS = {"memory": 0.7, "sqlite": 0.35}
"""Issue 13's bars for ours / bare with the instant agent (goals 0.9 and 0.5)."""

CASES = {
    "bare": "bare asyncio runner (validates once; queue+task per conv.)",
    "bare-unvalidated": "bare asyncio runner without the validation",
    "memory": "AgentRuntime, InMemoryStore",
    "sqlite": "AgentRuntime, SQLiteStore FULL",
    "sqlite-pipelined": "AgentRuntime, SQLiteStore FULL, pipelined input",
    "memory-nomem": "AgentRuntime, InMemoryStore, no short-term memory",
    "sqlite-nomem": "AgentRuntime, SQLiteStore FULL, no short-term memory",
    "sqlite-normal": "AgentRuntime, SQLiteStore NORMAL",
}


@dataclass(frozen=True)
class Run:
    messages: int
    wall: float
    cpu: float
    """Process CPU seconds (every thread)."""
    commits: int | None = None
    """SQLite transactions during the run (``SQLiteStore.batches``)."""

    @property
    def rate(self) -> float:
        return self.messages / self.wall

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.messages * 1e6


def payload(i: int, conversations: int) -> dict[str, Any]:
    """What the input pushes (the same fields InMemoryConnector.push builds)."""
    return {
        "id": uuid.uuid4().hex,
        "conversation_id": f"c{i % conversations}",
        "source": "memory",
        "author": {"id": "user"},
        "text": f"m{i}",
    }


# -- the baseline ---------------------------------------------------------------------------
class BareRunner:
    """One queue and one task per conversation; memory per conversation; replies in a list."""

    def __init__(
        self, agent: Callable[[str], Awaitable[str]], expected: int, *, validate: bool = False
    ) -> None:
        self._agent = agent
        self._validate = validate
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.memory: dict[str, list[tuple[str, str]]] = {}
        self.sent: list[tuple[dict[str, Any], str]] = []
        self._expected = expected
        self.done = asyncio.Event()

    async def sink(self, data: dict[str, Any]) -> None:
        if self._validate:
            Message.model_validate(data)
        key = f"{data['source']}:{data['conversation_id']}"
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.Queue()
            self._tasks.append(asyncio.create_task(self._work(key, queue)))
        queue.put_nowait(data)

    async def _work(self, key: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        memory = self.memory.setdefault(key, [])
        while True:
            data = await queue.get()
            reply = await self._agent(data["text"])
            memory.append(("user", data["text"]))
            memory.append(("assistant", reply))
            self.sent.append((data, reply))
            if len(self.sent) >= self._expected:
                self.done.set()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def run_bare(messages: int, conversations: int, delay: float, validate: bool) -> Run:
    async def agent(text: str) -> str:
        if delay:
            await asyncio.sleep(delay)
        return text

    bare = BareRunner(agent, messages, validate=validate)
    began, cpu = time.perf_counter(), time.process_time()
    for i in range(messages):
        await bare.sink(payload(i, conversations))
        await asyncio.sleep(0)  # the input reads its next message
    await asyncio.wait_for(bare.done.wait(), timeout=600)
    result = Run(messages, time.perf_counter() - began, time.process_time() - cpu)
    await bare.close()
    return result


# -- ours -----------------------------------------------------------------------------------
async def run_ours(
    store: Store, memory: bool, messages: int, conversations: int, delay: float, page: int = 0
) -> Run:
    async def agent(message: Message, context: AgentContext) -> str:
        if delay:
            await asyncio.sleep(delay)
        return message.text

    chat = InMemoryConnector()
    runtime = AgentRuntime(
        [chat],
        [chat],
        agent,
        short_term_memory=ShortTermMemory() if memory else None,
        store=store,
        handle_signals=False,
    )
    task = asyncio.create_task(runtime.run())
    await runtime.wait_started()
    batches = store.batches if isinstance(store, SQLiteStore) else 0
    began, cpu = time.perf_counter(), time.process_time()
    for i in range(messages):
        if page:
            await chat.hand_over(payload(i, conversations))
            if (i + 1) % page == 0 or i + 1 == messages:
                await chat.durable()  # where a poller moves its cursor
        else:
            await chat.push_raw(payload(i, conversations))
        await asyncio.sleep(0)  # the input reads its next message
    await chat.wait_for_replies(messages, timeout=600)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    commits = store.batches - batches if isinstance(store, SQLiteStore) else None
    result = Run(messages, wall, cpu, commits)
    await runtime.stop()
    await task
    return result


async def measure(
    case: str, tmp: Path, messages: int, conversations: int, delay: float, page: int
) -> Run:
    gc.collect()
    if case.startswith("bare"):
        return await run_bare(messages, conversations, delay, validate=case == "bare")
    store: Store
    if case.startswith("memory"):
        store = InMemoryStore()
    else:
        sync = "NORMAL" if case == "sqlite-normal" else "FULL"
        store = SQLiteStore(tmp / f"{case}-{time.monotonic_ns()}.sqlite3", synchronous=sync)
    memory, page = not case.endswith("-nomem"), page if case.endswith("-pipelined") else 0
    return await run_ours(store, memory, messages, conversations, delay, page)


class Profiler:
    """``py-spy record`` on this process while a block runs (raw folded stacks)."""

    def __init__(self, out: Path | None, *, gil: bool = False) -> None:
        self._out = out
        self._gil = gil
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Profiler:
        if self._out is not None:
            command = [str(py_spy()), "record", "--pid", str(os.getpid()), "--format", "raw"]
            command += ["--nonblocking", "--rate", "500", "--output", str(self._out)]
            command += ["--gil"] if self._gil else []
            self._proc = await asyncio.create_subprocess_exec(
                *command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            await asyncio.sleep(1.0)  # let it attach
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            await asyncio.wait_for(self._proc.wait(), 30)


async def workload(args: Any, tmp: Path, title: str, delay: float, messages: int) -> None:
    c = args.conversations
    print(f"{title}: {messages:,} messages over {c} conversations, {args.repeat} round(s)")
    cases = list(CASES) if args.breakdown else ["bare", "memory", "sqlite", "sqlite-pipelined"]
    runs: dict[str, list[Run]] = {case: [] for case in cases}
    for n in range(args.repeat):
        order = cases if n % 2 == 0 else cases[::-1]  # ABBA: drift hurts every case alike
        for case in order:
            out = None
            if args.profile:
                agent = "50ms" if delay else "instant"
                out = Path(args.profile) / f"runner-{agent}-{case}-r{n + 1}.txt"
            gc.collect()  # here, not inside the profile
            async with Profiler(out, gil=args.profile_gil):
                runs[case].append(await measure(case, tmp, messages, c, delay, args.page))
    print(
        f"  {'case':<54} {'msgs/s':>9} {'CPU us/msg':>10} {'commits/msg':>11} {'/ bare':>7}"
        "  per round"
    )
    bare = runs["bare"]
    for case in cases:
        rates = [r.rate for r in runs[case]]
        per_round = [r.rate / b.rate for r, b in zip(runs[case], bare, strict=True)]
        cpu = statistics.median(r.cpu_us for r in runs[case])
        ratio = statistics.median(per_round)
        rounds = ", ".join(f"{x:.2f}" for x in per_round)
        commits = [r.commits / r.messages for r in runs[case] if r.commits is not None]
        per_msg = f"{statistics.median(commits):.2f}" if commits else "-"
        print(
            f"  {CASES[case]:<54} {statistics.median(rates):>9,.0f} {cpu:>10,.0f} "
            f"{per_msg:>11} {ratio:>7.2f}  {rounds}"
        )
    if not delay:
        for case, bar in BARS.items():
            ratio = statistics.median(
                r.rate / b.rate for r, b in zip(runs[case], bare, strict=True)
            )
            verdict = "meets" if ratio >= bar else "BELOW"
            print(f"  {case} / bare {ratio:.2f}: {verdict} the issue-13 bar of {bar:.2f}")


async def main(args: Any) -> None:
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.messages:  # 0: only the slow agent's part
            await workload(args, Path(tmp), "agent answers at once", 0.0, args.messages)
        if args.delay_messages:
            title = f"agent takes {args.delay * 1000:g} ms"
            await workload(args, Path(tmp), title, args.delay, args.delay_messages)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages (a smoke run)")
    parser.add_argument(
        "--messages", type=int, default=5_000, help="messages for the instant agent (0: skip)"
    )
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.05, help="the slow agent's seconds")
    parser.add_argument(
        "--delay-messages", type=int, default=2_000, help="messages for the slow agent (0: skip)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds (the median is kept)")
    parser.add_argument("--page", type=int, default=100, help="pipelined input's page size")
    parser.add_argument("--breakdown", action="store_true", help="also the in-between cases")
    parser.add_argument("--profile", metavar="DIR", help="py-spy every measured run")
    parser.add_argument(
        "--profile-gil", action="store_true", help="sample only threads holding the GIL"
    )
    parsed = parser.parse_args()
    if parsed.quick:
        parsed.messages, parsed.delay_messages, parsed.repeat = 1_000, 400, 1
    if parsed.profile:
        if py_spy() is None:
            raise SystemExit("--profile needs py-spy: pip install py-spy")
        Path(parsed.profile).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(parsed))
