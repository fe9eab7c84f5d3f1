"""FakeSlack speaks the Web API and Socket Mode as slack_sdk expects: a plain SDK bot."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from agent_runner.testing.slack import FakeSlack


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(ack_timeout=0.05) as server:
        yield server


async def test_web_api_checks_tokens_limits_and_metadata(fake: FakeSlack) -> None:
    web = AsyncWebClient(token=fake.bot_token, base_url=fake.url)
    assert (await web.auth_test())["user_id"] == fake.bot.id
    with pytest.raises(SlackApiError, match="invalid_auth"):
        await AsyncWebClient(token="xoxb-wrong", base_url=fake.url).auth_test()
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await web.chat_postMessage(channel="C0NOPE", text="hi")
    with pytest.raises(SlackApiError, match="msg_too_long"):
        await web.chat_postMessage(channel=fake.channel, text="x" * 40_001)
    with pytest.raises(SlackApiError, match="invalid_metadata_format"):
        await web.chat_postMessage(channel=fake.channel, text="hi", metadata={"event_type": "x"})
    sent = await web.chat_postMessage(
        channel=fake.channel, text="hi", metadata={"event_type": "t", "event_payload": {"k": 1}}
    )
    await web.chat_update(channel=fake.channel, ts=sent["ts"], text="edited")
    [message] = fake.sent_in(fake.channel)
    assert (message.text, message.metadata) == (
        "edited",
        {"event_type": "t", "event_payload": {"k": 1}},
    )
    fake.rate_limit_next(1, retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        await web.chat_postMessage(channel=fake.channel, text="again")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"


async def test_socket_mode_resends_an_envelope_until_it_is_acked(fake: FakeSlack) -> None:
    web = AsyncWebClient(token=fake.bot_token, base_url=fake.url)
    socket = SocketModeClient(app_token=fake.app_token, web_client=web)
    seen: list[tuple[str, int]] = []
    frames: list[dict[str, object]] = []

    async def listener(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        seen.append((request.envelope_id, request.retry_attempt or 0))
        if len(seen) >= 3:  # acknowledge only the third delivery
            await client.send_socket_mode_response(SocketModeResponse(request.envelope_id))

    async def raw(message: object) -> None:
        frames.append(json.loads(message.data))  # type: ignore[attr-defined]

    socket.socket_mode_request_listeners.append(listener)
    socket.on_message_listeners.append(raw)
    try:
        await socket.connect()  # type: ignore[no-untyped-call]
        await fake.wait_until(lambda: fake.connections == 1)
        await fake.post_user_message(fake.dm, "hello")
        await fake.wait_until(lambda: len(fake.acks) == 1)
        await asyncio.sleep(0.15)  # three ack timeouts: nothing more comes
    finally:
        await socket.close()  # type: ignore[no-untyped-call]
    assert frames[0]["type"] == "hello"
    assert [attempt for _, attempt in seen] == [0, 1, 2]
    assert len({envelope for envelope, _ in seen}) == 1
