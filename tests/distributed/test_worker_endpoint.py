"""`agent-runner worker` serves the operator endpoint too: its probes and the metrics of the
conversation turns it runs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis.asyncio as redis

from tests.distributed._workers import Workers, lease_holders, wait_for
from tests.distributed.runner_app import running_on_workers
from tests.observability.support import free_port, get, sample


@pytest.fixture
def workers(redis_url: str, redis_prefix: str) -> Iterator[Workers]:
    made = Workers(redis_url, redis_prefix, "tests.distributed.runner_app", record=False)
    yield made
    made.close()


async def test_a_worker_serves_probes_and_the_metrics_of_its_turns(
    workers: Workers, redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("AGENT_RUNNER_ADMIN_PORT", str(port))
    workers.start("w1", partitions=4)
    monkeypatch.setenv("AGENT_RUNNER_ADMIN_PORT", "0")  # the runner in this process: off
    url = f"http://127.0.0.1:{port}"
    admin = redis.Redis.from_url(redis_url)
    try:

        async def hosted() -> bool:
            holders = await lease_holders(admin, redis_prefix, "agent_runner.conversation", 4)
            return set(holders) == {"w1"}

        await wait_for(hosted)
    finally:
        await admin.aclose()

    async def ready() -> bool:
        try:
            return (await get(f"{url}/readyz"))[0] == 200
        except OSError:
            return False

    await wait_for(ready)
    async with running_on_workers(redis_url, redis_prefix) as chat:
        for n in range(4):
            await chat.push(f"hi {n}", conversation_id=f"c{n}")
        replies = await chat.wait_for_replies(4, timeout=15)
    on_w1 = sum(reply.text.endswith("(on w1)") for _, reply in replies)
    assert on_w1 == 4  # the runner hosts no conversations
    status, text = await get(f"{url}/metrics")
    assert status == 200, workers.logs()
    assert sample(text, "agent_runner_agent_seconds_count") == on_w1
    status, body = await get(f"{url}/api/status")
    assert json.loads(body)["role"] == "worker"
    assert workers.terminate("w1") == 0
