"""One connected trace per message, exported over OTLP/HTTP to a real local receiver.

The runner reads the standard ``OTEL_*`` variables; the receiver (agent_runner.testing.otlp)
decodes the protobuf export requests the OpenTelemetry SDK's OTLP/HTTP exporter sends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from agent_runner.llm import LLMAgent, ScriptedModelClient, ToolCall
from agent_runner.testing.otlp import OTLPReceiver, ReceivedSpan
from agent_runner.testing.webhook import FakeWebhookReceiver
from connectors.http import HTTPConnector
from connectors.webhook import WebhookOutput
from tests.connectors._web_fixtures import running
from tests.tracing.support import export_to

SECRET = "SECRET-TEXT-42"
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture
async def receiver(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[OTLPReceiver]:
    async with OTLPReceiver() as collector:
        export_to(monkeypatch, collector.url)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "trace-test-bot")
        yield collector


async def one_message_with_a_tool_call(hooks: FakeWebhookReceiver) -> None:
    """An HTTP message (with the caller's traceparent) to an LLM agent that calls a tool;
    the reply goes back over HTTP and to a webhook."""
    model = ScriptedModelClient([ToolCall.of("add", {"a": 2, "b": 3}, id="call-1"), "5"])
    agent = LLMAgent(model, system_prompt="Be brief.", tools=[add])
    http = HTTPConnector(port=0)
    hook = WebhookOutput(hooks.url, backoff_base=0.001)
    async with running([http], [http, hook], agent, routes={"http": ["http", "webhook"]}):
        headers = {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
        body = {"text": f"what is two plus three {SECRET}", "conversation_id": "c1"}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as client,
            client.post(f"{http.url}/v1/messages", json=body, headers=headers) as resp,
        ):
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["replies"] == [{"text": "5"}]
        await hooks.wait_kept(1)
    # Leaving the block stopped the runner, which flushed the spans to the receiver.


def by_name(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    named: dict[str, ReceivedSpan] = {}
    for span in spans:
        assert span.name not in named or span.name.startswith("chat "), span.name
        named.setdefault(span.name, span)
    return named


async def test_one_connected_trace_per_http_message(receiver: OTLPReceiver) -> None:
    async with FakeWebhookReceiver() as hooks:
        await one_message_with_a_tool_call(hooks)
        posted = hooks.kept[0].headers
    spans = receiver.spans
    assert {s.trace_id for s in spans} == {CALLER_TRACE}, "one trace, the caller's"
    assert {s.service_name for s in spans} == {"trace-test-bot"}
    named = by_name(spans)
    ids = {s.span_id: s for s in spans}

    def parent(name: str) -> str:
        return ids[named[name].parent_span_id].name

    receive = named["receive http"]
    assert receive.parent_span_id == CALLER_SPAN  # continues the caller's trace
    assert parent("journal write") == "receive http"
    assert parent("conversation turn") == "receive http"
    assert parent("invoke_agent LLMAgent") == "conversation turn"
    assert parent("execute_tool add") == "invoke_agent LLMAgent"
    assert parent("send http") == "receive http"
    assert parent("send webhook") == "receive http"
    chats = [s for s in spans if s.name == "chat scripted"]
    assert len(chats) == 2
    assert {ids[c.parent_span_id].name for c in chats} == {"invoke_agent LLMAgent"}

    first = chats[0].attributes
    assert first["gen_ai.operation.name"] == "chat"
    assert first["gen_ai.provider.name"] == first["gen_ai.system"] == "scripted"
    assert first["gen_ai.request.model"] == first["gen_ai.response.model"] == "scripted"
    assert first["gen_ai.usage.input_tokens"] > 0
    assert first["gen_ai.usage.output_tokens"] > 0
    assert first["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert chats[1].attributes["gen_ai.response.finish_reasons"] == ["stop"]
    tool = named["execute_tool add"].attributes
    assert tool["gen_ai.tool.name"] == "add" and tool["gen_ai.tool.call.id"] == "call-1"
    assert receive.attributes["messaging.message.id"].startswith("http:")

    # The webhook's request carries the trace context of its send span.
    send = named["send webhook"]
    assert posted["traceparent"] == f"00-{CALLER_TRACE}-{send.span_id}-01"

    # Message text and prompts are not recorded by default.
    assert SECRET not in json.dumps([s.attributes for s in spans])


async def test_message_text_is_recorded_when_the_operator_opts_in(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    async with FakeWebhookReceiver() as hooks:
        await one_message_with_a_tool_call(hooks)
    named = by_name(receiver.spans)
    assert SECRET in named["receive http"].attributes["agent_runner.message.text"]
    assert SECRET in named["chat scripted"].attributes["gen_ai.input.messages"]
    tool = named["execute_tool add"].attributes
    assert json.loads(tool["gen_ai.tool.call.arguments"]) == {"a": 2, "b": 3}
    assert tool["gen_ai.tool.call.result"] == "5"


OFF_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from agent_runner import AgentRuntime
    from agent_runner.store import InMemoryStore
    from agent_runner.testing.otlp import OTLPReceiver
    from connectors.inmemory import InMemoryConnector

    async def echo(message, context):
        return message.text

    async def main():
        async with OTLPReceiver() as collector:
            chat = InMemoryConnector()
            runtime = AgentRuntime([chat], [chat], echo, store=InMemoryStore(),
                                   handle_signals=False)
            task = asyncio.create_task(runtime.run())
            await runtime.wait_started()
            await chat.push("hello", conversation_id="c")
            await chat.wait_for_replies(1)
            await runtime.stop()
            await task
            loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
            print(collector.requests, loaded)

    asyncio.run(main())
    """
)


def test_nothing_is_exported_and_no_sdk_is_loaded_without_otel_variables(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["AGENT_RUNNER_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", OFF_SCRIPT],
        capture_output=True,
        text=True,
        timeout=50,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0 []"
