"""Property-based fuzz of request bodies: never a 5xx, never a crash, never an invalid message.

One runner serves every example (on its own event loop thread); hypothesis drives a plain
blocking HTTP client against it.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_runner import Message
from connectors.http import HTTPConnector
from tests.connectors._web_fixtures import Recorder, running

MESSAGE_FIELDS = [
    "id",
    "conversation_id",
    "author",
    "text",
    "attachments",
    "reply_to",
    "depth",
    "payment",
    "metadata",
    "callback_url",
    "source",
    "created_at",
    "extra",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
near_valid = st.fixed_dictionaries(
    {"text": st.one_of(st.text(max_size=50), json_values)},
    optional={name: json_values for name in MESSAGE_FIELDS if name != "text"}
    | {
        "author": st.one_of(
            json_values,
            st.fixed_dictionaries({"id": st.text(max_size=300)}, optional={"is_bot": json_values}),
        ),
        "attachments": st.lists(
            st.fixed_dictionaries({"url": st.text(max_size=30)}, optional={"size": json_values}),
            max_size=3,
        ),
        "id": st.text(max_size=300),
    },
)
chat_bodies = st.fixed_dictionaries(
    {
        "messages": st.one_of(
            json_values,
            st.lists(
                st.fixed_dictionaries(
                    {"role": st.sampled_from(["user", "system", "assistant", "bot", 3])},
                    optional={"content": st.one_of(st.text(max_size=30), json_values)},
                ),
                max_size=4,
            ),
        )
    },
    optional={"stream": json_values, "model": json_values, "user": json_values},
)
raw_bodies = st.binary(max_size=300)


@dataclass
class Server:
    url_host: str
    port: int
    agent: Recorder

    def post(self, path: str, body: bytes) -> tuple[int, Any]:
        conn = http.client.HTTPConnection(self.url_host, self.port, timeout=10)
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, data
        finally:
            conn.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    loop = asyncio.new_event_loop()
    agent = Recorder()
    connector = HTTPConnector(port=0, rate_limit_per_minute=0, reply_timeout=5)
    ready = threading.Event()
    stop = asyncio.Event()

    async def serve() -> None:
        async with running([connector], [connector], agent):
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(15), "the runner did not start"
    try:
        yield Server("127.0.0.1", connector.port, agent)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(15)
        loop.close()


def check(server: Server, status: int, body: bytes) -> None:
    assert status < 500, body
    if status >= 400:
        error = json.loads(body)["error"]
        assert error["message"] and error["code"]
    for message in server.agent.seen:
        assert isinstance(message, Message)
        assert message.source == "http"
        Message.model_validate(message.model_dump())  # still valid when re-validated


FUZZ = settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(body=near_valid)
def test_fuzz_messages_json(server: Server, body: dict[str, Any]) -> None:
    status, answer = server.post("/v1/messages", json.dumps(body).encode())
    check(server, status, answer)
    if status == 200:
        assert json.loads(answer)["replies"]


@FUZZ
@given(body=raw_bodies)
def test_fuzz_messages_raw_bytes(server: Server, body: bytes) -> None:
    status, answer = server.post("/v1/messages", body)
    check(server, status, answer)


@FUZZ
@given(body=chat_bodies)
def test_fuzz_chat_completions(server: Server, body: dict[str, Any]) -> None:
    status, answer = server.post("/v1/chat/completions", json.dumps(body).encode())
    check(server, status, answer)
