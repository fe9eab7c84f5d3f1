"""Connectors tell the operator endpoint how they are: Telegram's poll loop after each
``getUpdates`` round, Slack's Socket Mode session when it drops and comes back, cron at each
firing. Against the fakes with the real SDKs; /readyz red with a reason, green on recovery."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from agent_runner.testing.slack import FakeSlack
from agent_runner.testing.telegram import FakeTelegram
from connectors.cron import CronInput, CronJob
from tests.connectors.slack._fixtures import connector_for as slack_connector
from tests.connectors.telegram._fixtures import connector_for as telegram_connector

from .support import get, running, sample
from .test_health import green, red, until


async def status(url: str) -> dict[str, Any]:
    _, body = await get(f"{url}/api/status")
    found: dict[str, Any] = json.loads(body)
    return found


async def reported(url: str, name: str) -> dict[str, Any]:
    """Poll /api/status until connector ``name`` has reported progress; its entry then."""
    async with asyncio.timeout(15):
        while True:
            connector: dict[str, Any] = (await status(url))["connectors"][name]
            if connector["last_event_seconds"] is not None:
                return connector
            await asyncio.sleep(0.05)


async def test_a_telegram_poll_loop_that_keeps_failing_is_red_until_it_polls_again() -> None:
    async with FakeTelegram() as fake:
        telegram = telegram_connector(fake, poll_timeout=1)
        telegram.down_grace = 0.3
        assert telegram.progress_interval is not None  # polling: watched for stalls
        async with running(extra_inputs=[telegram]) as (_, _, url):
            await until(url, green)
            assert (await reported(url, "telegram"))["state"] == "up"  # a round finished
            fake.set_webhook("http://127.0.0.1:9/hook", "secret")  # getUpdates: 409 Conflict
            reasons = await until(url, red("connector"))
            assert reasons[0]["connector"] == "telegram"
            assert "telegram has been reconnecting" in reasons[0]["detail"]
            fake.set_webhook(None, None)
            await until(url, green)
            assert (await status(url))["connectors"]["telegram"]["state"] == "up"


async def test_a_slack_socket_down_longer_than_its_grace_is_red_until_it_reconnects() -> None:
    async with FakeSlack() as fake:
        fake.add_channel("C1")
        slack = slack_connector(fake, ping_interval=0.2)
        slack.down_grace = 0.3
        async with running(extra_inputs=[slack]) as (_, _, url):
            await fake.wait_until(lambda: fake.connections > 0)
            await until(url, green)
            assert (await status(url))["connectors"]["slack"]["state"] == "up"
            await fake.drop_socket_mode()  # closed, and new connections refused
            reasons = await until(url, red("connector"))
            assert reasons[0]["connector"] == "slack"
            assert "slack has been reconnecting" in reasons[0]["detail"]
            connections = fake.connections
            fake.accept_socket_mode()
            await fake.wait_until(lambda: fake.connections > connections)
            await until(url, green)
            assert (await status(url))["connectors"]["slack"]["state"] == "up"


async def test_cron_reports_each_firing() -> None:
    cron = CronInput([CronJob(name="tick", text="tick", interval=timedelta(seconds=1))])
    async with running(extra_inputs=[cron]) as (runtime, _, url):
        assert runtime.operator is not None
        metrics = runtime.operator.metrics

        async def fired(count: int) -> float:
            """Wait for ``count`` firings; the time of the last reported progress then."""
            while True:
                _, text = await get(f"{url}/metrics")
                if sample(text, "agent_runner_messages_received_total", source="cron") >= count:
                    return metrics.last_event["cron"]
                await asyncio.sleep(0.05)

        first = await fired(1)
        second = await fired(2)
        assert second > first  # each firing is progress, not just the start
        found = await status(url)
        assert found["connectors"]["cron"]["state"] == "up"
        assert found["connectors"]["cron"]["last_event_seconds"] is not None
        _, text = await get(f"{url}/metrics")
        assert 'agent_runner_connector_last_event_seconds{connector="cron"}' in text
