"""A message whose turn runs on an ``agent-runner worker`` process is one trace: the runner's
spans and the worker's, exported by each process to the same local OTLP/HTTP receiver."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass

import pytest
import redis.asyncio as redis

from agent_runner.core import AgentId, MessageContext, RoutedAgent, rpc
from agent_runner.distributed import DistributedAgentRuntime
from agent_runner.distributed._wire import Keys
from agent_runner.testing.otlp import OTLPReceiver
from agent_runner.tracing import spans, start_tracing, stop_tracing
from tests.distributed._workers import Workers, wait_hosted
from tests.distributed.runner_app import running_on_workers
from tests.tracing.support import export_to


async def test_a_turn_on_a_worker_joins_the_message_trace(
    runner_workers: Workers, redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with OTLPReceiver() as collector:
        export_to(monkeypatch, collector.url)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
        monkeypatch.setenv("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS", "otel,process")  # pids
        worker = runner_workers.start("w1", partitions=2)  # inherits the OTEL_* variables
        await wait_hosted(redis_url, redis_prefix, "agent_runner.conversation", 2, {"w1"})
        async with running_on_workers(redis_url, redis_prefix) as chat:
            await chat.push("hello", conversation_id="c1")
            replies = await chat.wait_for_replies(1, timeout=15)
        assert replies[0][1].text == "echo hello (on w1)"
        # SIGTERM: the worker flushes its spans (to this loop's receiver: wait off the loop).
        assert await asyncio.to_thread(runner_workers.terminate, "w1") == 0, runner_workers.logs()

        def complete(spans: object) -> bool:
            names = {s.name for s in collector.spans}
            return {"receive memory", "invoke_agent agent", "send memory"} <= names

        spans = await collector.wait_for(complete, within=15)
    assert len({s.trace_id for s in spans}) == 1, [(s.name, s.trace_id) for s in spans]
    ids = {s.span_id: s for s in spans}
    named = {s.name: s for s in spans}
    turn, agent = named["conversation turn"], named["invoke_agent agent"]
    assert ids[turn.parent_span_id].name == "receive memory"
    assert ids[agent.parent_span_id] is turn
    assert ids[named["send memory"].parent_span_id].name == "receive memory"
    # Two processes, one trace: the runner made the receive span, the worker the turn.
    assert named["receive memory"].service_name == turn.service_name == "agent-runner"
    assert named["receive memory"].resource["process.pid"] == os.getpid()
    assert turn.resource["process.pid"] == agent.resource["process.pid"] == worker.pid


@dataclass
class Ask:
    text: str


class TraceEcho(RoutedAgent):
    """Answers with the trace id current in its handler (empty when none)."""

    def __init__(self) -> None:
        super().__init__("trace echo")

    @rpc
    async def on_ask(self, message: Ask, ctx: MessageContext) -> str:
        from opentelemetry import trace

        context = trace.get_current_span().get_span_context()
        return format(context.trace_id, "032x") if context.is_valid else ""


async def test_the_wire_header_carries_the_trace_context(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with OTLPReceiver() as collector:
        export_to(monkeypatch, collector.url)
        rt = DistributedAgentRuntime(
            redis_url, prefix=redis_prefix, partitions=1, heartbeat_interval=0.1
        )
        await TraceEcho.register(rt, "echo", TraceEcho)
        rt.start()
        assert start_tracing("wire-test")
        try:
            recipient = AgentId("echo", "k")
            assert await rt.send_message(Ask("untraced"), recipient) == ""
            with spans.span("caller") as caller:
                trace_id = format(caller.get_span_context().trace_id, "032x")
                assert await rt.send_message(Ask("traced"), recipient) == trace_id
        finally:
            await stop_tracing()
            await rt.close()
        admin = redis.Redis.from_url(redis_url)
        try:
            stream = Keys(redis_prefix).inbox("echo", 0)
            entries = await admin.xrange(stream)
        finally:
            await admin.aclose()
    headers = [json.loads(fields[b"h"]) for _, fields in entries]
    asks = [h for h in headers if h.get("type") == "Ask"]
    assert len(asks) == 2
    assert "traceparent" not in asks[0]  # a header without it is read as before
    assert asks[1]["traceparent"].split("-")[1] == trace_id
