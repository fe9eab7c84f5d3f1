"""The runner's metrics on the operator endpoint, scraped over HTTP after a known load."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from agent_runner import AgentRuntime, PipelinedSink
from agent_runner.errors import InvalidMessageError
from agent_runner.observability import AdminSettings, RunnerMetrics
from agent_runner.pricing import ModelPrice, Pricing
from agent_runner.runner.guards import RefusedMessageError
from agent_runner.runner.operations import refusal_code
from connectors.inmemory import InMemoryConnector

from .support import echo, free_port, get, running, sample


async def test_counters_move_with_each_message() -> None:
    async with running() as (runtime, chat, url):
        for n in range(1, 4):
            await chat.push(f"m{n}", conversation_id=f"c{n}")
            await chat.wait_for_replies(n)
            status, text = await get(f"{url}/metrics")
            assert status == 200
            assert sample(text, "agent_runner_messages_received_total", source="memory") == n
            assert (
                sample(text, "agent_runner_messages_handled_total", source="memory", outcome="ok")
                == n
            )
            assert sample(text, "agent_runner_replies_total", output="memory", outcome="sent") == n
            assert sample(text, "agent_runner_handling_seconds_count", source="memory") == n
            assert sample(text, "agent_runner_agent_seconds_count") == n
        assert sample(text, "agent_runner_journal_pending") == 0


async def test_refusals_duplicates_and_errors_are_counted_by_reason() -> None:
    async def agent(message: Any, context: Any) -> str:
        if message.text == "boom":
            raise RuntimeError("the agent failed")
        return "ok"

    async with running(agent) as (runtime, chat, url):
        with pytest.raises(RefusedMessageError):
            await chat.push("hi", author={"id": "b", "is_bot": True})
        with pytest.raises(InvalidMessageError):
            await chat.push_raw({"source": "memory", "text": "no ids"})
        await chat.push("one", id="same")
        await chat.push("one again", id="same")
        await chat.push("boom", conversation_id="c2")
        await chat.wait_for_replies(2)
        _, text = await get(f"{url}/metrics")
    assert sample(text, "agent_runner_messages_received_total") == 5
    assert sample(text, "agent_runner_messages_refused_total", reason="bot") == 1
    assert sample(text, "agent_runner_messages_refused_total", reason="invalid") == 1
    assert sample(text, "agent_runner_messages_duplicate_total") == 1
    assert sample(text, "agent_runner_messages_handled_total", outcome="ok") == 1
    assert sample(text, "agent_runner_messages_handled_total", outcome="error") == 1


async def test_a_pipelined_input_keeps_its_hand_over_and_is_counted() -> None:
    """With the endpoint on, inputs still get the runner's pipelined sink (no commit awaited
    per message), and what they hand over is counted as pushed messages are."""
    async with running() as (runtime, chat, url):
        assert isinstance(chat._sink, PipelinedSink)
        futures = [await chat.hand_over(_fields(n)) for n in range(4)]
        futures.append(await chat.hand_over(_fields(1)))  # the same id again
        with pytest.raises(RefusedMessageError):
            await chat.hand_over({**_fields(9), "author": {"id": "b", "is_bot": True}})
        with pytest.raises(InvalidMessageError):
            await chat.hand_over({"source": "memory", "text": "no ids"})
        await chat.durable()
        assert [f.result().duplicate for f in futures] == [False] * 4 + [True]
        await chat.wait_for_replies(4)
        _, text = await get(f"{url}/metrics")
    assert sample(text, "agent_runner_messages_received_total", source="memory") == 7
    assert sample(text, "agent_runner_messages_duplicate_total", source="memory") == 1
    assert sample(text, "agent_runner_messages_refused_total", reason="bot") == 1
    assert sample(text, "agent_runner_messages_refused_total", reason="invalid") == 1
    assert sample(text, "agent_runner_messages_handled_total", outcome="ok") == 4


def _fields(n: int) -> dict[str, Any]:
    return {
        "id": f"h{n}",
        "conversation_id": f"c{n % 2}",
        "source": "memory",
        "author": {"id": "u"},
        "text": f"m{n}",
    }


async def test_model_calls_tokens_and_cost_are_counted_per_model() -> None:
    async def agent(message: Any, context: Any) -> str:
        await context.cost.check("m1", input_tokens=10, max_output_tokens=5)
        await context.cost.record("m1", input_tokens=10, output_tokens=5)
        return "priced"

    pricing = Pricing(prices={"m1": ModelPrice(input_per_million=1e6, output_per_million=2e6)})
    async with running(agent, pricing=pricing) as (runtime, chat, url):
        await chat.push("hi")
        await chat.wait_for_replies(1)
        _, text = await get(f"{url}/metrics")
    assert sample(text, "agent_runner_model_calls_total", model="m1") == 1
    assert sample(text, "agent_runner_model_tokens_total", model="m1", kind="input") == 10
    assert sample(text, "agent_runner_model_tokens_total", model="m1", kind="output") == 5
    assert sample(text, "agent_runner_model_cost_total", model="m1") == pytest.approx(20.0)


async def test_two_runtimes_in_one_process_keep_their_own_registries() -> None:
    async with running() as (_, first, first_url), running() as (_, second, second_url):
        await first.push("a")
        await first.push("b", conversation_id="c2")
        await second.push("c")
        await first.wait_for_replies(2)
        await second.wait_for_replies(1)
        _, one = await get(f"{first_url}/metrics")
        _, two = await get(f"{second_url}/metrics")
    assert sample(one, "agent_runner_messages_handled_total") == 2
    assert sample(two, "agent_runner_messages_handled_total") == 1


async def test_the_endpoint_is_off_with_port_0_and_costs_no_hooks() -> None:
    chat = InMemoryConnector()
    runtime = AgentRuntime([chat], [chat], echo, admin=AdminSettings(port=0))
    assert runtime.operator is None


async def test_probes_and_status_json() -> None:
    async with running() as (runtime, chat, url):
        await chat.push("hi")
        await chat.wait_for_replies(1)
        assert await get(f"{url}/healthz") == (200, json.dumps({"ok": True}))
        status, body = await get(f"{url}/readyz")
        assert (status, json.loads(body)) == (200, {"ready": True, "reasons": []})
        status, body = await get(f"{url}/api/status")
        report = json.loads(body)
        assert report["ready"] is True
        assert report["messages"]["handled"] == 1
        assert report["connectors"] == {"memory": {"state": "up", "last_event_seconds": None}}
        status, page = await get(f"{url}/")
        assert status == 200 and "<html" in page


async def test_a_token_guards_everything_but_the_probes() -> None:
    admin = AdminSettings(port=free_port(), token="s3cret")
    async with running(admin=admin) as (runtime, chat, url):
        assert (await get(f"{url}/metrics"))[0] == 401
        assert (await get(f"{url}/api/status", headers={"Authorization": "Bearer nope"}))[0] == 401
        assert (await get(f"{url}/metrics", headers={"Authorization": "Bearer s3cret"}))[0] == 200
        assert (await get(f"{url}/healthz"))[0] == 200
        assert (await get(f"{url}/readyz"))[0] == 200


async def test_a_public_address_without_a_token_does_not_start() -> None:
    chat = InMemoryConnector()
    admin = AdminSettings(host="0.0.0.0", port=free_port())
    runtime = AgentRuntime([chat], [chat], echo, admin=admin, handle_signals=False)
    with pytest.raises(Exception, match="AGENT_RUNNER_ADMIN_TOKEN"):
        await asyncio.wait_for(runtime.run(), 10)


def test_refusal_codes_are_bounded() -> None:
    assert (
        refusal_code(RefusedMessageError("refused: author 'me' is ignored (x)")) == "ignored_author"
    )
    assert refusal_code(RefusedMessageError("refused: reply depth 9 is over 8")) == "too_deep"
    assert refusal_code(InvalidMessageError("bad")) == "invalid"


def test_metrics_object_alone() -> None:
    metrics = RunnerMetrics()
    for n in range(40):
        metrics.model_call(f"model-{n}", 1, 1, 0.0)
    assert metrics.total("agent_runner_model_calls_total", model="other") == 8
