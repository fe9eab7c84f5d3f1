"""``agent-runner worker MODULE``: run a worker process hosting the agent types of MODULE.

MODULE (``package.module`` or ``package.module:function``) defines ``register(runtime)``,
sync or async, which registers agent types on the runtime it is given::

    # myagents.py
    async def register(runtime: DistributedAgentRuntime) -> None:
        await Worker.register(runtime, "worker", Worker)

    $ REDIS_URL=redis://127.0.0.1:6379/0 agent-runner worker myagents

The worker runs until SIGTERM or SIGINT, then finishes its in-flight messages, hands its
partitions to the other workers and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any

from agent_runner.distributed._distributed_runtime import DistributedAgentRuntime
from agent_runner.errors import ConfigurationError
from agent_runner.tracing import start_tracing, stop_tracing

logger = logging.getLogger("agent_runner.distributed.worker")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-runner worker",
        description="Run a distributed worker hosting the agent types MODULE registers.",
    )
    parser.add_argument("module", help="MODULE or MODULE:FUNCTION (default function: register)")
    parser.add_argument("--redis-url", help="Redis URL (default: $REDIS_URL)")
    parser.add_argument("--prefix", default="agent-runner", help="Redis key prefix")
    parser.add_argument("--worker-id", help="this worker's id (default: host-pid-random)")
    parser.add_argument("--partitions", type=int, default=16, help="partitions per new type")
    parser.add_argument("--heartbeat-interval", type=float, default=1.0, help="seconds")
    parser.add_argument("--heartbeat-ttl", type=float, default=5.0, help="seconds")
    parser.add_argument("--claim-min-idle", type=float, default=1.0, help="seconds")
    parser.add_argument("--rpc-timeout", type=float, default=60.0, help="seconds")
    parser.add_argument("--shutdown-grace", type=float, default=10.0, help="seconds")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING, ...")
    return parser


def load_register(spec: str) -> Callable[[DistributedAgentRuntime], Any]:
    """The ``register`` function named by ``MODULE[:FUNCTION]``."""
    module_name, _, function = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import worker module {module_name!r}: {exc}") from exc
    register = getattr(module, function or "register", None)
    if not callable(register):
        raise ConfigurationError(
            f"worker module {module_name!r} has no function {function or 'register'}(runtime)"
        )
    return register  # type: ignore[no-any-return]


async def serve(runtime: DistributedAgentRuntime, register: Callable[[Any], Any]) -> None:
    """Register, start, wait for SIGTERM/SIGINT, stop cleanly; serve the operator endpoint
    (``AGENT_RUNNER_ADMIN_*``) meanwhile."""
    from agent_runner.observability import OperatorEndpoint, worker_operations
    from agent_runner.observability.health import Reason, reason

    async def read_loop() -> list[Reason]:
        problems = runtime._host.reader.problems()  # this package's own worker process
        return [reason("distributed", text) for text in problems]

    stop, ready = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    traced = start_tracing()  # when OTEL_* asks for it: turns run here join their traces
    endpoint = OperatorEndpoint.configured(role="worker")
    hooks = worker_operations.set(endpoint.metrics if endpoint is not None else None)
    try:
        if endpoint is not None:
            endpoint.watch(runtime)
            await endpoint.start(
                store=None, ready=ready, pending=lambda: 0, connectors=(), checks=[read_loop]
            )
        made = register(runtime)
        if inspect.isawaitable(made):
            await made
        runtime.start()
        ready.set()
        logger.info("worker %s ready", runtime.worker_id)
        await stop.wait()
        logger.info("worker %s stopping", runtime.worker_id)
    finally:
        ready.clear()
        worker_operations.reset(hooks)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await runtime.close()
        if traced:
            await stop_tracing()
        if endpoint is not None:
            await endpoint.stop()


def worker_command(argv: list[str]) -> int:
    """Entry point of ``agent-runner worker``; returns the exit code."""
    args = _parser().parse_args(argv)
    from agent_runner.settings import RunnerSettings, mask_url

    settings = RunnerSettings()
    level = (args.log_level or settings.log_level).upper()
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    redis_url = args.redis_url or settings.redis_url
    if not redis_url:
        logger.error("no Redis: pass --redis-url or set REDIS_URL")
        return 2
    try:
        register = load_register(args.module)
        runtime = DistributedAgentRuntime(
            redis_url,
            prefix=args.prefix,
            worker_id=args.worker_id,
            partitions=args.partitions,
            heartbeat_interval=args.heartbeat_interval,
            heartbeat_ttl=args.heartbeat_ttl,
            claim_min_idle=args.claim_min_idle,
            rpc_timeout=args.rpc_timeout,
            shutdown_grace=args.shutdown_grace,
        )
    except ConfigurationError as exc:
        logger.error("%s", exc)
        return 2
    logger.info("worker %s on %s", runtime.worker_id, mask_url(redis_url))
    asyncio.run(serve(runtime, register))
    return 0
