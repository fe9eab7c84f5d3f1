"""HTTP throughput and latency: ``POST /v1/messages`` through the runner vs a bare aiohttp handler.

Both servers run in a subprocess of their own on 127.0.0.1 and answer the same JSON; the
same load generator (an aiohttp client with N concurrent workers, each its own conversation)
measures requests/s and p50/p99 latency against each, in the same run:

- ``bare``: an aiohttp handler that parses the body and returns the echo JSON;
- ``runner``: ``HTTPConnector`` -> ``AgentRuntime`` (validation, journal, per-conversation
  mailbox, conversation actor, reply claim) with an echo agent and the durable SQLite store
  (``synchronous=FULL``, group commit), auth/rate-limit code paths on.

Usage: ``python bench/bench_http.py [--quick] [--duration S] [--concurrency N]``.
Target: the runner reaches at least 50% of the bare handler's throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.5


# -- servers (run in a subprocess) ----------------------------------------------------------
async def serve_bare(port: int) -> None:
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        data = json.loads(await request.read())
        text = data["text"]
        return web.json_response(
            {
                "id": os.urandom(16).hex(),
                "conversation_id": data.get("conversation_id"),
                "replies": [{"text": f"echo: {text}"}],
            }
        )

    app = web.Application()
    app.router.add_post("/v1/messages", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(f"READY {runner.addresses[0][1]}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


async def serve_runner(port: int, data_dir: str, synchronous: str) -> None:
    from agent_runner import AgentContext, AgentRuntime, Message
    from agent_runner.store import SQLiteStore
    from connectors.http import HTTPConnector

    async def echo(message: Message, context: AgentContext) -> str:
        return f"echo: {message.text}"

    http = HTTPConnector(port=port, auth_token=None, rate_limit_per_minute=1e9)
    path = Path(data_dir) / f"bench-{synchronous.lower()}-{os.getpid()}.sqlite3"
    store = SQLiteStore(path, synchronous=synchronous)  # type: ignore[arg-type]
    runtime = AgentRuntime([http], [http], echo, store=store, agent_timeout=None)
    task = asyncio.create_task(runtime.run())
    await runtime.wait_started()
    print(f"READY {http.port}", flush=True)
    await task


async def serve_connector(port: int) -> None:
    """The HTTP connector alone: a sink that answers at once (no runner, no store)."""
    from agent_runner import Accepted, Message, Reply
    from connectors.http import HTTPConnector

    http = HTTPConnector(port=port, rate_limit_per_minute=1e9)

    async def sink(message: Message) -> Accepted:
        asyncio.get_running_loop().call_soon(
            asyncio.ensure_future, http.send(message, Reply(text=f"echo: {message.text}"))
        )
        return Accepted(message.key)

    await http.open()
    task = asyncio.create_task(http.start(sink))  # type: ignore[arg-type]
    print(f"READY {http.port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await http.stop()
    await task
    await http.close()


# -- load generator -------------------------------------------------------------------------
async def load(url: str, *, concurrency: int, duration: float, warmup: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    counted = [0]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        loop = asyncio.get_running_loop()
        start = loop.time()
        measure_from = start + warmup
        end = measure_from + duration

        async def worker(n: int) -> None:
            nonlocal errors
            i = 0
            while True:
                now = loop.time()
                if now >= end:
                    return
                body = {"text": f"hello {i}", "conversation_id": f"w{n}"}
                began = time.perf_counter()
                async with session.post(url, json=body) as resp:
                    await resp.read()
                    ok = resp.status == 200
                took = time.perf_counter() - began
                counted[0] += 1
                if loop.time() >= measure_from:
                    if ok:
                        latencies.append(took)
                    else:
                        errors += 1
                i += 1

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
    latencies.sort()
    count = len(latencies)
    return {
        "rps": count / duration,
        "p50_ms": statistics.median(latencies) * 1000 if count else float("nan"),
        "p99_ms": latencies[min(count - 1, int(count * 0.99))] * 1000 if count else float("nan"),
        "errors": errors,
        "requests": count,
        "total": counted[0],
    }


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(kind: str, data_dir: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--data-dir", data_dir],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "AGENT_RUNNER_LOG_LEVEL": "WARNING"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(f"{kind} server did not start: {line!r}")
    return proc, int(line.split()[1])


def stop_server(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (CI smoke)")
    parser.add_argument("--duration", type=float, default=None, help="seconds measured per server")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per server")
    parser.add_argument(
        "--normal", action="store_true", help="also run with SQLite synchronous=NORMAL"
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="also run the HTTP connector without the runner"
    )
    parser.add_argument(
        "--serve", choices=["bare", "connector", "runner", "runner-normal"], help=argparse.SUPPRESS
    )
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()
    if args.serve == "bare":
        asyncio.run(serve_bare(0))
        return 0
    if args.serve == "connector":
        asyncio.run(serve_connector(0))
        return 0
    if args.serve in ("runner", "runner-normal"):
        synchronous = "NORMAL" if args.serve == "runner-normal" else "FULL"
        asyncio.run(serve_runner(0, args.data_dir, synchronous))
        return 0
    duration = args.duration or (1.5 if args.quick else 4.0)
    warmup = 0.3 if args.quick else 1.0
    rounds = 1 if args.quick else args.rounds
    kinds = ["bare", "runner"]
    if args.breakdown:
        kinds.insert(1, "connector")
    if args.normal:
        kinds.append("runner-normal")
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory() as data_dir:
        for _ in range(rounds):  # alternate, so a noisy neighbour hurts both alike
            for kind in kinds:
                proc, port = start_server(kind, data_dir)
                try:
                    url = f"http://127.0.0.1:{port}/v1/messages"
                    before = cpu_seconds(proc.pid)
                    result = asyncio.run(
                        load(url, concurrency=args.concurrency, duration=duration, warmup=warmup)
                    )
                    after = cpu_seconds(proc.pid)
                    if before is not None and after is not None and result["total"]:
                        result["cpu_ms"] = (after - before) * 1000 / result["total"]
                    runs[kind].append(result)
                finally:
                    stop_server(proc)
    results = {kind: sorted(r, key=lambda x: x["rps"])[len(r) // 2] for kind, r in runs.items()}
    print(
        f"POST /v1/messages, {args.concurrency} concurrent clients, {duration:g}s per run, "
        f"median of {rounds} alternating run(s)"
    )
    print(
        f"{'server':<44} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU ms/req':>10}"
    )
    names = {
        "bare": "bare aiohttp handler",
        "connector": "HTTPConnector alone (no runner, no store)",
        "runner": "HTTPConnector+AgentRuntime, SQLite FULL",
        "runner-normal": "HTTPConnector+AgentRuntime, SQLite NORMAL",
    }
    for kind, r in results.items():
        cpu = min((run.get("cpu_ms", float("nan")) for run in runs[kind]), default=float("nan"))
        print(
            f"{names[kind]:<44} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{int(r['errors']):>7} {cpu:>10.3f}"
        )
    ratio = results["runner"]["rps"] / results["bare"]["rps"] if results["bare"]["rps"] else 0.0
    verdict = "PASS" if ratio >= TARGET else "BELOW TARGET"
    print(f"runner (durable) / bare throughput: {ratio:.2f} (target >= {TARGET:.2f}): {verdict}")
    cpu_bare = min((r.get("cpu_ms", float("nan")) for r in runs["bare"]), default=float("nan"))
    cpu_runner = min((r.get("cpu_ms", float("nan")) for r in runs["runner"]), default=float("nan"))
    print(
        f"server CPU per request, bare / runner: {cpu_bare / cpu_runner:.2f} "
        "(the throughput ratio when both are CPU-bound on one core)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
