"""The cost of the operator endpoint's metrics per message: AgentRuntime with the endpoint on
(metrics hooks fed on every step, ``/metrics`` scraped once a second) vs off (port 0: no hooks).

The workload of ``bench_runner.py``: N messages over C conversations, pushed one at a time by
one input (each push awaits the sink, then yields once), an agent that answers at once,
``InMemoryStore`` and ``SQLiteStore`` (the durable default). The cases alternate, each run on a
fresh runner; reported: msgs/s and process CPU per message of the median run, and the
overhead of ``on`` against ``off`` (issue 14's bar: under 5%).

``--pairs P`` measures instead P alternating off/on pairs (``InMemoryStore``, the case the
bar is hardest on) and reports the median and interquartile range of the P per-pair ratios of
CPU per message: the two runs of a pair are seconds apart, so a load change on the shared
machine moves both, where medians of separate runs drift apart by several percent. By default
the scraper is an aiohttp client in this process, started with each run, so its client's CPU
(session, connection, one scrape a run whatever the run's length) counts as the endpoint's;
``--scraper-apart`` scrapes from a process of its own, as Prometheus does (started, and its
first scrape served, before the clock starts): only the server's side is counted, at one
scrape a second of the run.

``--instructions`` counts instead the instructions the process executes, under valgrind's
callgrind (``apt-get install -y valgrind``; about three minutes): one process per case and
length, on and off, 1,000 and 9,000 messages; the difference between the two lengths over
8,000 is the instructions per message, free of the start-up and of the machine's load (CPU
time on this shared 2-core machine moves by ±10% between identical runs: an off/off "A/B"
gives a median of a few per cent with an IQR of ±5%). These runs are not scraped (a scrape
is work per scrape, not per message); the endpoint's periodic work (its health watch) runs
on wall-clock time, which valgrind stretches about 50 times, so it weighs heavier here than
in production. A scrape's cost is then measured natively (100 scrapes of a warm runner,
client and server in this process) and given as its share of a busy core at one scrape a
second.

Usage: ``python bench/bench_ops.py [--quick] [--messages N] [--conversations C] [--runs R]
[--pairs P [--scraper-apart] | --instructions]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import re
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from agent_runner import AgentRuntime, Message  # noqa: E402
from agent_runner.observability import AdminSettings  # noqa: E402
from agent_runner.store import InMemoryStore, SQLiteStore, Store  # noqa: E402
from connectors.inmemory import InMemoryConnector  # noqa: E402


async def answer(message: Message, context: Any) -> str:
    return "ok"


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


async def scrape(url: str, stop: asyncio.Event) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while not stop.is_set():
            async with session.get(f"{url}/metrics") as response:
                await response.read()
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass


SCRAPER = """
import sys, time, urllib.request
while True:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
        response.read()
    sys.stdout.write("scraped\\n")
    sys.stdout.flush()
    time.sleep(1.0)
"""
"""A scraper in a process of its own (as Prometheus is): ``GET /metrics`` once a second."""


async def scrape_elsewhere(url: str) -> asyncio.subprocess.Process:
    """Start :data:`SCRAPER` on ``url`` and wait for its first scrape."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SCRAPER, f"{url}/metrics", stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    await asyncio.wait_for(process.stdout.readline(), 30)
    return process


async def push(chat: InMemoryConnector, messages: int, conversations: int) -> None:
    """The workload's input: ``messages`` pushed one at a time through the sink the runner gave
    ``chat`` (a fresh id each, round-robin over ``conversations``), yielding once after each."""
    for n in range(messages):
        await chat.push_raw(
            {
                "id": uuid.uuid4().hex,
                "conversation_id": f"c{n % conversations}",
                "source": chat.name,
                "author": {"id": "u"},
                "text": "hi",
            }
        )
        await asyncio.sleep(0)


async def one_run(
    store: Store, *, on: bool, messages: int, conversations: int, here: bool = True
) -> tuple[float, float]:
    """(msgs/s, CPU seconds per message) of one run; ``here``: the scraper runs in this
    process (its client's CPU counted too), else in its own."""
    chat = InMemoryConnector()
    admin = AdminSettings(port=free_port() if on else 0)
    runtime = AgentRuntime([chat], [chat], answer, store=store, admin=admin, handle_signals=False)
    task = asyncio.create_task(runtime.run())
    await runtime.wait_started()
    stop = asyncio.Event()
    scraper = process = None
    if on:
        assert runtime.operator is not None and runtime.operator.url is not None
        if here:
            scraper = asyncio.create_task(scrape(runtime.operator.url, stop))
        else:
            process = await scrape_elsewhere(runtime.operator.url)
    began, cpu = time.perf_counter(), time.process_time()
    await push(chat, messages, conversations)
    await chat.wait_for_replies(messages, timeout=600)
    elapsed, used = time.perf_counter() - began, time.process_time() - cpu
    stop.set()
    if scraper is not None:
        await scraper
    if process is not None:
        process.kill()
        await process.wait()
    await runtime.stop()
    await task
    return messages / elapsed, used / messages


async def pairs(count: int, messages: int, conversations: int, here: bool) -> None:
    """Alternating off/on pairs on InMemoryStore: median and IQR of the on/off CPU ratios."""
    where = "this process" if here else "a process of its own"
    print(f"{count} off/on pairs of {messages} messages over {conversations} conversations")
    print(f"/metrics scraped once a second from {where}")
    ratios, cpu = [], {False: list[float](), True: list[float]()}
    for n in range(count):
        found = {}
        for on in (False, True) if n % 2 == 0 else (True, False):
            gc.collect()
            found[on] = (await one_run(
                InMemoryStore(), on=on, messages=messages, conversations=conversations,
                here=here,
            ))[1]  # fmt: skip
            cpu[on].append(found[on])
        ratios.append(found[True] / found[False])
    q1, median, q3 = statistics.quantiles(ratios, n=4)
    print(
        f"CPU us/msg, median: off {statistics.median(cpu[False]) * 1e6:.1f}, "
        f"on {statistics.median(cpu[True]) * 1e6:.1f}"
    )
    print(
        f"metrics on costs {median - 1:+.1%} CPU per message (IQR {q1 - 1:+.1%} .. "
        f"{q3 - 1:+.1%}, {count} pairs; bar: under 5%)"
    )


LENGTHS = (1000, 9000)
"""``--instructions``: the two run lengths whose difference gives instructions per message."""


async def counted_run(on: bool, messages: int, conversations: int, scrapes: int = 0) -> None:
    """The run one ``--instructions`` process makes (under callgrind): ``messages`` through a
    fresh runner; with ``scrapes``, then that many scrapes of ``/metrics`` timed (CPU)."""
    chat = InMemoryConnector()
    admin = AdminSettings(port=free_port() if on else 0)
    runtime = AgentRuntime(
        [chat], [chat], answer, store=InMemoryStore(), admin=admin, handle_signals=False
    )
    task = asyncio.create_task(runtime.run())
    await runtime.wait_started()
    url = runtime.operator.url if on and runtime.operator is not None else None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
        await push(chat, messages, conversations)
        await chat.wait_for_replies(messages, timeout=6000)
        if url is not None and scrapes:
            cpu = time.process_time()
            for _ in range(scrapes):
                async with session.get(f"{url}/metrics") as response:
                    await response.read()
            used = (time.process_time() - cpu) / scrapes
            print(f"a scrape of /metrics costs {used * 1e3:.2f} ms of CPU (client and server):")
            print(f"  at one a second, {used:.2%} of a busy core")
    await runtime.stop()
    await task


async def instructions(conversations: int) -> None:
    """Instructions per message, endpoint on and off, by callgrind (see the module doc)."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind: apt-get install -y valgrind")

    async def count(on: bool, messages: int) -> int:
        process = await asyncio.create_subprocess_exec(
            "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            sys.executable, __file__, "--child", "on" if on else "off", str(messages),
            "--conversations", str(conversations),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await process.communicate()
        found = re.search(rb"Collected : (\d+)", err)
        if process.returncode != 0 or found is None:
            raise SystemExit(f"callgrind run failed:\n{err.decode(errors='replace')[-2000:]}")
        return int(found.group(1))

    print(f"instructions per message by callgrind, {LENGTHS[1]} - {LENGTHS[0]} messages")
    per_message = {}
    for on in (False, True):  # the two lengths of a case run side by side (two cores)
        short, long = await asyncio.gather(*(count(on, n) for n in LENGTHS))
        per_message[on] = (long - short) / (LENGTHS[1] - LENGTHS[0])
        print(f"  endpoint {'on ' if on else 'off'}: {per_message[on]:>10,.0f} instructions")
    overhead = per_message[True] / per_message[False] - 1
    print(f"metrics on costs {overhead:+.1%} instructions per message (bar: under 5%)")
    await counted_run(True, 2000, conversations, scrapes=100)


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--messages", type=int, default=None)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--pairs", type=int, default=0, help="off/on pairs (InMemoryStore)")
    parser.add_argument(
        "--scraper-apart",
        action="store_true",
        help="with --pairs: scrape from another process (only the server's side counted)",
    )
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions per message (valgrind)"
    )
    parser.add_argument("--child", nargs=2, metavar=("ON", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        await counted_run(args.child[0] == "on", int(args.child[1]), args.conversations)
        return 0
    messages = args.messages or (2000 if args.quick else 10000)
    runs = args.runs or (3 if args.quick else 5)
    logging.basicConfig(level=logging.WARNING)
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.instructions:
        await instructions(args.conversations)
        return 0
    if args.pairs:
        await pairs(args.pairs, args.messages or 5000, args.conversations, not args.scraper_apart)
        return 0
    print(f"{messages} messages over {args.conversations} conversations, {runs} runs per case")
    print(f"{'case':<16}{'msgs/s':>10}{'CPU us/msg':>12}")
    overheads = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("memory", "sqlite"):
            results: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
            for r in range(runs):
                for on in (False, True) if r % 2 == 0 else (True, False):
                    store: Store = (
                        InMemoryStore()
                        if kind == "memory"
                        else SQLiteStore(Path(tmp) / f"{kind}-{r}-{on}.sqlite3")
                    )
                    gc.collect()  # a full collection inside a timed run is noise of ±10%
                    results[on].append(
                        await one_run(
                            store, on=on, messages=messages, conversations=args.conversations
                        )
                    )
            medians = {}
            for on, found in results.items():
                rate = statistics.median(x for x, _ in found)
                cpu = statistics.median(y for _, y in found)
                medians[on] = (rate, cpu)
                label = f"{kind}-{'on' if on else 'off'}"
                print(f"{label:<16}{rate:>10.0f}{cpu * 1e6:>12.1f}")
            cpu_overhead = medians[True][1] / medians[False][1] - 1
            rate_overhead = 1 - medians[True][0] / medians[False][0]
            overheads.append((kind, cpu_overhead, rate_overhead))
    for kind, cpu_overhead, rate_overhead in overheads:
        print(
            f"{kind}: metrics on costs {cpu_overhead:+.1%} CPU per message, "
            f"{rate_overhead:+.1%} throughput (bar: under 5%)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
