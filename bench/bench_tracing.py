"""What tracing costs per message: off vs. on vs. a build without the tracing calls.

The workload: N messages over C conversations pushed one at a time through AgentRuntime
(``InMemoryConnector`` in and out, ``InMemoryStore``) to an ``LLMAgent`` whose scripted model
answers at once: per message that is six spans when tracing is on (receive, journal write,
conversation turn, invoke_agent, chat, send). Three cases, each in its own fresh process, the
rounds interleaved (ABC, CBA, ...) and measured in this one run:

- ``stripped``: a copy of the package with every tracing call site removed (an AST rewrite of
  ``agent_runner`` and ``connectors``: ``with pipeline.receive(...)`` becomes its body,
  ``spans.current()`` becomes ``None``...), checked to contain no call left: the floor;
- ``off``: this build with no ``OTEL_*`` variable (the default);
- ``on``: this build exporting every span over OTLP/HTTP to a local receiver (this process,
  another thread), batched by the SDK's ``BatchSpanProcessor``.

Reported: µs and process CPU µs per message (medians), and off / stripped, on / stripped.

Usage: ``python bench/bench_tracing.py [--quick] [--messages N] [--conversations C]``.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TRACING_NAMES = {"pipeline", "spans", "genai"}
"""Modules whose attribute calls are tracing calls."""
TRACING_FUNCTIONS = {
    "trace_requests",
    "with_traceparent",
    "tracing_session",
    "start_tracing",
    "stop_tracing",
}
PASS_THROUGH = {"journal_write": 0, "tool_call": 1}
"""Wrappers replaced by the argument they wrap (its index)."""


# -- the build without the calls ------------------------------------------------------------
def _tracing_call(node: ast.AST) -> str | None:
    """The called name when ``node`` is a tracing call, else None."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.attr if func.value.id in TRACING_NAMES else None
    if isinstance(func, ast.Name) and func.id in TRACING_FUNCTIONS:
        return func.id
    return None


class _Strip(ast.NodeTransformer):
    """Removes tracing calls: statements made of one, ``with`` items, wrappers."""

    removed = 0

    def visit_Expr(self, node: ast.Expr) -> ast.AST | None:
        if any(_tracing_call(n) not in (None, *PASS_THROUGH) for n in ast.walk(node)):
            self.removed += 1
            return None
        return self.generic_visit(node)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> Any:
        kept = [item for item in node.items if not _tracing_call(item.context_expr)]
        self.removed += len(node.items) - len(kept)
        node.items = kept
        node = self.generic_visit(node)  # type: ignore[assignment]
        return node if kept else node.body

    visit_AsyncWith = visit_With

    def visit_Call(self, node: ast.Call) -> ast.AST:
        name = _tracing_call(node)
        if name is None:
            return self.generic_visit(node)
        self.removed += 1
        if name in PASS_THROUGH:
            return self.visit(node.args[PASS_THROUGH[name]])
        return ast.Constant(value=None)


def _fill_empty_bodies(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            value = getattr(node, name, None)
            if name == "body" and isinstance(value, list) and not value:
                setattr(node, name, [ast.Pass()])


def stripped_build(into: Path) -> int:
    """Copy ``agent_runner`` and ``connectors`` into ``into`` without the tracing calls;
    return how many were removed. Raises AssertionError when a call is left."""
    removed = 0
    for package in ("agent_runner", "connectors"):
        shutil.copytree(ROOT / package, into / package, ignore=shutil.ignore_patterns("*.pyc"))
        for path in (into / package).rglob("*.py"):
            if path.is_relative_to(into / "agent_runner" / "tracing"):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if not any(_tracing_call(n) for n in ast.walk(tree)):
                continue
            strip = _Strip()
            tree = strip.visit(tree)
            _fill_empty_bodies(tree)
            tree = ast.fix_missing_locations(tree)
            left = [ast.unparse(n) for n in ast.walk(tree) if _tracing_call(n)]
            assert not left, f"{path}: tracing calls left: {left}"
            path.write_text(ast.unparse(tree), encoding="utf-8")
            removed += strip.removed
    return removed


# -- one measurement (a child process) ------------------------------------------------------
CHILD = """
import asyncio, json, sys, time, uuid
import agent_runner
from agent_runner import AgentRuntime
from agent_runner.llm import LLMAgent, ScriptedModelClient
from agent_runner.store import InMemoryStore
from connectors.inmemory import InMemoryConnector

messages, conversations = int(sys.argv[1]), int(sys.argv[2])

async def run(n):
    agent = LLMAgent(ScriptedModelClient(default="ok"), system_prompt="Be brief.")
    chat = InMemoryConnector()
    runtime = AgentRuntime([chat], [chat], agent, store=InMemoryStore(), handle_signals=False)
    task = asyncio.create_task(runtime.run())
    await runtime.wait_started()
    began, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        await chat.push_raw({"id": uuid.uuid4().hex, "conversation_id": f"c{i % conversations}",
                             "source": "memory", "author": {"id": "user"}, "text": f"m{i}"})
        await asyncio.sleep(0)
    await chat.wait_for_replies(n, timeout=600)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    await runtime.stop()
    await task
    return wall, cpu

asyncio.run(run(max(messages // 10, 50)))  # warm-up
wall, cpu = asyncio.run(run(messages))
loaded = any(m.startswith("opentelemetry.sdk") for m in sys.modules)
print(json.dumps({"us": wall / messages * 1e6, "cpu_us": cpu / messages * 1e6,
                  "file": agent_runner.__file__, "sdk": loaded}))
"""


def measure(case: str, stripped: Path, endpoint: str, messages: int, conversations: int) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = str(stripped if case == "stripped" else ROOT)
    if case == "on":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(messages), str(conversations)],
        capture_output=True,
        text=True,
        env=env,
        cwd=stripped if case == "stripped" else ROOT,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{case} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    expected = stripped if case == "stripped" else ROOT
    assert Path(result["file"]).is_relative_to(expected), (case, result["file"])
    assert result["sdk"] == (case == "on"), (case, result)
    return result


class Collector:
    """An OTLPReceiver on its own event loop in a thread (the children export to it)."""

    def __init__(self) -> None:
        from agent_runner.testing.otlp import OTLPReceiver

        self.receiver = OTLPReceiver()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Collector:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.receiver.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.receiver.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages and rounds")
    parser.add_argument("--messages", type=int, default=None)
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args()
    messages = args.messages or (1000 if args.quick else 3000)
    repeat = args.repeat or (2 if args.quick else 5)
    print(f"load average {os.getloadavg()[0]:.2f}")
    cases = ["stripped", "off", "on"]
    runs: dict[str, list[Any]] = {case: [] for case in cases}
    with tempfile.TemporaryDirectory() as tmp, Collector() as collector:
        removed = stripped_build(Path(tmp))
        print(
            f"stripped build: {removed} tracing calls removed; {messages:,} messages over "
            f"{args.conversations} conversations, {repeat} round(s), LLMAgent + scripted model"
        )
        for n in range(repeat):
            for case in cases if n % 2 == 0 else cases[::-1]:
                runs[case].append(
                    measure(case, Path(tmp), collector.receiver.url, messages, args.conversations)
                )
        spans = len(collector.receiver.spans)
    per_message = spans / (repeat * (messages + max(messages // 10, 50)))
    print(f"  exported {spans:,} spans ({per_message:.1f} per message) from the 'on' runs")
    floor = statistics.median(r["us"] for r in runs["stripped"])
    floor_cpu = statistics.median(r["cpu_us"] for r in runs["stripped"])
    print(f"  {'case':<10} {'us/msg':>8} {'CPU us/msg':>10} {'/ stripped':>10}  per round")
    for case in cases:
        us = statistics.median(r["us"] for r in runs[case])
        cpu = statistics.median(r["cpu_us"] for r in runs[case])
        rounds = ", ".join(
            f"{r['us'] / s['us']:.3f}" for r, s in zip(runs[case], runs["stripped"], strict=True)
        )
        print(f"  {case:<10} {us:>8.1f} {cpu:>10.1f} {us / floor:>10.3f}  {rounds}")
    off = statistics.median(r["us"] for r in runs["off"])
    on = statistics.median(r["us"] for r in runs["on"])
    on_cpu = statistics.median(r["cpu_us"] for r in runs["on"])
    print(
        f"  tracing off costs {off / floor - 1:+.1%} per message; on costs {on / floor - 1:+.1%}"
        f" ({on_cpu - floor_cpu:+.0f} CPU us/msg, the exporter thread included)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
