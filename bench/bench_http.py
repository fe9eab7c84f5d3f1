"""HTTP ingest under wrk: the main job (``examples/run.py``) vs a bare aiohttp JSON handler.

Each server runs in a process of its own on 127.0.0.1 and is loaded by ``wrk -t1 -c64`` (a C
load generator, Debian package ``wrk``) with a Lua script that gives every request a fresh
message id and spreads the requests over 64 conversations. The servers, in alternating rounds:

- ``bare``: an aiohttp handler that decodes the JSON body and answers the echo JSON;
- ``main``: the main job, ``python examples/run.py`` as shipped (HTTP connector, cron input,
  offline echo agent with short-term memory and a per-conversation counter in the store,
  SQLite journal with ``synchronous=FULL``), with ``HTTP_RATE_LIMIT_PER_MINUTE=0``.

``--breakdown`` adds three servers between the two, to see where the difference goes:
``connector`` (the HTTP connector with a sink that answers at once: no runner, no store),
``runner-memory`` (connector + ``AgentRuntime`` + an echo function, ``InMemoryStore``, no
short-term memory) and ``runner-sqlite`` (the same on ``SQLiteStore``).

Per server and round: requests/s, p50/p99 latency (wrk's), the server's CPU per request and
CPU use (``/proc/<pid>/stat``, all its threads), and wrk's own CPU use (so a saturated load
generator shows). Two A/B modes run extra servers in the same alternating rounds:
``--ab-front`` each HTTP-connector server also without the connector's lean front (every
request through aiohttp), ``--against CHECKOUT`` each server but the bare one also from
another checkout of the project (e.g. ``git archive main | tar -x -C /tmp/before``).
``--pin`` puts the server on CPU 0 and wrk on CPU 1. ``--loop uvloop`` runs
every server, the bare one too, on uvloop (installed before the server's ``asyncio.run``).
``--profile DIR`` attaches ``py-spy record`` to each server during the measured run (raw
folded stacks, for ``bench/profile_summary.py``; the figures of a profiled run are not for
comparison).

Usage: ``python bench/bench_http.py [--quick] [--rounds N] [--duration S] [--breakdown]
[--ab-front] [--against CHECKOUT]``.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._util import py_spy  # noqa: E402

BAR = 0.35
"""Issue 13's bar for main / bare (its goal is 0.6)."""
CONVERSATIONS = 64

LUA = """\
-- Every request gets a fresh message id; requests go round-robin over the conversations.
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local conversations = tonumber(os.getenv("BENCH_CONVERSATIONS") or "64")
local threads = 0
local n = 0
tid = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function request()
  n = n + 1
  local body = string.format(
    '{"id":"%s-%d-%d","conversation_id":"conv-%d","text":"hello %d"}',
    run, tid, n, n % conversations, n)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %.1f %.1f\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


# -- servers (each runs in a process of its own) ---------------------------------------------
async def serve_bare(port: int) -> None:
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        data = json.loads(await request.read())
        return web.json_response(
            {
                "id": data.get("id") or os.urandom(16).hex(),
                "conversation_id": data.get("conversation_id"),
                "replies": [{"text": f"echo: {data['text']}"}],
            }
        )

    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.router.add_post("/v1/messages", handle)
    app.router.add_get("/readyz", ready)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


async def serve_connector(port: int) -> None:
    """The HTTP connector alone: a sink that answers at once (no runner, no store)."""
    from agent_runner import Accepted, Message, Reply
    from connectors.http import HTTPConnector

    http = HTTPConnector(port=port, rate_limit_per_minute=0)

    async def sink(message: Message) -> Accepted:
        async def answer() -> None:
            await http.send(message, Reply(text=f"echo: {message.text}"))
            await http.complete(message)

        asyncio.get_running_loop().call_soon(asyncio.ensure_future, answer())
        return Accepted(message.key)

    await http.open()
    task = asyncio.create_task(http.start(sink))  # type: ignore[arg-type]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await http.stop()
    await task
    await http.close()


async def serve_runner(port: int, data_dir: str, store_kind: str) -> None:
    """HTTP connector + AgentRuntime + an echo function, no short-term memory."""
    from agent_runner import AgentContext, AgentRuntime, Message
    from agent_runner.store import InMemoryStore, SQLiteStore, Store
    from connectors.http import HTTPConnector

    async def echo(message: Message, context: AgentContext) -> str:
        return f"echo: {message.text}"

    http = HTTPConnector(port=port, rate_limit_per_minute=0)
    store: Store = (
        InMemoryStore()
        if store_kind == "memory"
        else SQLiteStore(Path(data_dir) / "agent-runner.sqlite3")
    )
    await AgentRuntime([http], [http], echo, store=store).run()


# -- driver ---------------------------------------------------------------------------------
KINDS = {
    "bare": "bare aiohttp JSON handler",
    "connector": "HTTPConnector alone (sink answers at once)",
    "runner-memory": "connector + AgentRuntime, InMemoryStore",
    "runner-sqlite": "connector + AgentRuntime, SQLiteStore",
    "main": "main job (examples/run.py, SQLite FULL)",
}


def label(kind: str) -> str:
    """A server's name in the tables (``kind/aiohttp``: the connector without its front;
    ``kind/against``: from the other checkout)."""
    name, _, variant = kind.partition("/")
    suffix = {"aiohttp": ", no front", "against": ", before"}.get(variant)
    return f"{KINDS[name][:30]}{suffix}" if suffix else KINDS[name]


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    server_cpu: float
    """Server CPU seconds (all threads) during the measured run."""
    wrk_cpu: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.server_cpu * 1000 / self.requests if self.requests else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pinned(cpu: int | None) -> dict[str, object]:
    if cpu is None:
        return {}
    return {"preexec_fn": lambda: os.sched_setaffinity(0, {cpu})}


def server_command(
    kind: str, port: int, data_dir: Path, loop: str = "asyncio", against: Path | None = None
) -> tuple[list[str], dict[str, str]]:
    """The command and environment of one server; ``kind/aiohttp`` runs it without the HTTP
    connector's front, ``kind/against`` from the checkout ``against``."""
    kind, _, variant = kind.partition("/")
    root = against if variant == "against" and against is not None else ROOT
    front = "aiohttp" if variant == "aiohttp" else ""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HTTP_", "LLM_", "OPENAI_", "AGENT_RUNNER_"))
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    env["AGENT_RUNNER_LOG_LEVEL"] = "WARNING"
    if kind == "main":
        env |= {
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(port),
            "HTTP_RATE_LIMIT_PER_MINUTE": "0",
            "AGENT_RUNNER_DATA_DIR": str(data_dir),
        }
        return [*python(loop, front), str(root / "examples" / "run.py")], env
    script = str(root / "bench" / "bench_http.py")
    command = [*python(loop, front), script, "--serve", kind, "--port", str(port)]
    return [*command, "--data-dir", str(data_dir)], env


WITHOUT_FRONT = """
import connectors.http.connector as connector
_serve = connector.serve
async def _without_front(app, **options):
    return await _serve(app, **(options | {"front": None}))
connector.serve = _without_front
"""
"""Run before the server's script: the HTTP connector serves every route through aiohttp."""


def python(loop: str, front: str = "") -> list[str]:
    """The interpreter command that runs a script with ``asyncio.run`` on ``loop``; with
    ``front="aiohttp"`` the HTTP connector runs without its lean front."""
    if loop == "asyncio" and not front:
        return [sys.executable]
    code = "import runpy, sys\n"
    code += "import uvloop; uvloop.install()\n" if loop == "uvloop" else ""
    code += WITHOUT_FRONT if front == "aiohttp" else ""
    code += "sys.argv.pop(0); runpy.run_path(sys.argv[0], run_name='__main__')\n"
    return [sys.executable, "-c", code]


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was ready")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} not ready within {timeout}s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wrk(
    url: str, script: Path, *, seconds: float, connections: int, run_id: str, cpu: int | None
) -> tuple[list[int], float, float, float]:
    """One wrk run: its counts (requests, microseconds, errors), p50/p99 ms, wrk's CPU s."""
    env = {**os.environ, "BENCH_RUN": run_id, "BENCH_CONVERSATIONS": str(CONVERSATIONS)}
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    before = children_cpu()
    done = subprocess.run(
        [*command, "-s", str(script), url],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=seconds + 60,
        **pinned(cpu),  # type: ignore[arg-type]
    )
    used = children_cpu() - before
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    fields = line.split()[1:]
    return [int(x) for x in fields[:7]], float(fields[7]) / 1000, float(fields[8]) / 1000, used


def measure(kind: str, args: argparse.Namespace, script: Path, tag: str, data: Path) -> Result:
    port = free_port()
    command, env = server_command(kind, port, data, args.loop, args.against)
    data.mkdir(parents=True)
    proc = subprocess.Popen(command, env=env, cwd=data, **pinned(0 if args.pin else None))  # type: ignore[call-overload]
    profiler: subprocess.Popen[bytes] | None = None
    try:
        wait_ready(port, proc)
        url = f"http://127.0.0.1:{port}/v1/messages"
        wrk_cpu = 1 if args.pin else None
        wrk(
            url,
            script,
            seconds=args.warmup,
            connections=args.connections,
            run_id=f"{tag}w",
            cpu=wrk_cpu,
        )
        if args.profile:
            out = Path(args.profile) / f"http-{kind.replace('/', '-')}.txt"
            command = [str(py_spy()), "record", "--pid", str(proc.pid), "--format", "raw"]
            command += ["--nonblocking", "--duration", f"{max(1, round(args.duration))}"]
            command += ["--rate", "200", "--output", str(out)]
            command += ["--gil"] if args.profile_gil else []
            profiler = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        began, cpu = time.perf_counter(), cpu_seconds(proc.pid)
        counts, p50, p99, used = wrk(
            url,
            script,
            seconds=args.duration,
            connections=args.connections,
            run_id=tag,
            cpu=wrk_cpu,
        )
        server_cpu = cpu_seconds(proc.pid) - cpu
        seconds = time.perf_counter() - began
        requests, micros, *errors = counts
        return Result(
            requests=requests,
            seconds=micros / 1e6 or seconds,
            errors=sum(errors),
            p50_ms=p50,
            p99_ms=p99,
            server_cpu=server_cpu,
            wrk_cpu=used,
        )
    finally:
        if profiler is not None:
            profiler.wait(timeout=args.duration + 30)
        stop_server(proc)


def median_result(results: list[Result]) -> Result:
    return sorted(results, key=lambda r: r.rps)[len(results) // 2]


def row(name: str, r: Result) -> str:
    return (
        f"  {name:<44} {r.rps:>8,.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {r.errors:>6} "
        f"{r.cpu_ms:>8.3f} {r.server_cpu / r.seconds:>7.0%} {r.wrk_cpu / r.seconds:>6.0%}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round (a smoke run)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--duration", type=float, default=None, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=None, help="unmeasured seconds first")
    parser.add_argument("--connections", type=int, default=64, help="wrk -c")
    parser.add_argument("--breakdown", action="store_true", help="also the in-between servers")
    parser.add_argument("--pin", action="store_true", help="server on CPU 0, wrk on CPU 1")
    parser.add_argument(
        "--loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="the event loop of every server (uvloop: installed before the server starts)",
    )
    parser.add_argument(
        "--ab-front",
        action="store_true",
        help="also run each HTTP-connector server without its lean front (aiohttp only)",
    )
    parser.add_argument(
        "--against",
        type=Path,
        metavar="CHECKOUT",
        help="also run each server but the bare one from another checkout (before/after)",
    )
    parser.add_argument("--profile", metavar="DIR", help="py-spy each server (raw stacks)")
    parser.add_argument(
        "--profile-gil", action="store_true", help="sample only threads holding the GIL"
    )
    parser.add_argument("--serve", choices=sorted(KINDS), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()
    if args.serve == "bare":
        asyncio.run(serve_bare(args.port))
        return 0
    if args.serve == "connector":
        asyncio.run(serve_connector(args.port))
        return 0
    if args.serve in ("runner-memory", "runner-sqlite"):
        asyncio.run(serve_runner(args.port, args.data_dir, args.serve.split("-")[1]))
        return 0
    if shutil.which("wrk") is None:
        print("bench_http.py needs wrk (a C load generator): apt-get install -y wrk")
        return 2
    if args.profile and py_spy() is None:
        print("--profile needs py-spy: pip install py-spy")
        return 2
    args.duration = args.duration or (2.0 if args.quick else 5.0)
    args.warmup = args.warmup if args.warmup is not None else 1.0
    rounds = 1 if args.quick else args.rounds
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    kinds = ["bare", "connector", "runner-memory", "runner-sqlite", "main"]
    if not args.breakdown:
        kinds = ["bare", "main"]
    for variant, wanted in (("aiohttp", args.ab_front), ("against", args.against)):
        if wanted:
            kinds = [
                k for kind in kinds for k in (kind, f"{kind}/{variant}") if k != f"bare/{variant}"
            ]
    load = os.getloadavg()
    print(
        f"POST /v1/messages, wrk -t1 -c{args.connections}, {CONVERSATIONS} conversations, "
        f"a fresh id per request, {args.duration:g}s measured after {args.warmup:g}s warm-up, "
        f"{rounds} alternating round(s){', pinned' if args.pin else ''}; "
        f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    header = (
        f"  {'server':<44} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'CPU ms/req':>8} {'srv CPU':>7} {'wrk CPU':>6}"
    )
    runs: dict[str, list[Result]] = {kind: [] for kind in kinds}
    ratios: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "messages.lua"
        script.write_text(LUA)
        for n in range(rounds):
            print(f"round {n + 1}", flush=True)
            print(header)
            order = kinds if n % 2 == 0 else kinds[::-1]  # ABBA: drift hurts both alike
            for kind in order:
                tag = f"r{n}-{kind.replace('/', '-')}"
                result = measure(kind, args, script, tag, Path(tmp) / tag)
                runs[kind].append(result)
                print(row(label(kind), result), flush=True)
            ratio = runs["main"][-1].rps / runs["bare"][-1].rps
            ratios.append(ratio)
            print(f"  main / bare: {ratio:.2f}", flush=True)
            bare = runs["bare"][-1]
            if bare.server_cpu / bare.seconds < 0.8:
                print(
                    f"  (the bare server had only {bare.server_cpu / bare.seconds:.0%} of a core: "
                    "the machine is busy, so this round understates the gap)"
                )
    print(f"median of {rounds} round(s)")
    print(header)
    for kind in kinds:
        print(row(label(kind), median_result(runs[kind])))
    median = statistics.median(ratios)
    verdict = "meets" if median >= BAR else "BELOW"
    print(
        f"main / bare throughput per round: {', '.join(f'{r:.2f}' for r in ratios)}; "
        f"median {median:.2f} ({verdict} the issue-13 bar of {BAR:.2f})"
    )
    cpu = statistics.median(r.cpu_ms for r in runs["main"])
    cpu_bare = statistics.median(r.cpu_ms for r in runs["bare"])
    print(
        f"server CPU per request, main / bare: {cpu / cpu_bare:.2f}x "
        f"({cpu:.3f} / {cpu_bare:.3f} ms)"
    )
    for kind in kinds:
        name, _, variant = kind.partition("/")
        if variant:
            ours = statistics.median(r.cpu_ms for r in runs[name])
            other = statistics.median(r.cpu_ms for r in runs[kind])
            which = "with / without the front" if variant == "aiohttp" else "now / before"
            print(
                f"server CPU per request, {name} {which}: "
                f"{ours:.3f} / {other:.3f} ms ({ours / other - 1:+.0%})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
