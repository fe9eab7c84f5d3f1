"""The OpenAPI 3.1 document: valid, served, covering every route, and its page current."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from openapi_spec_validator import validate

from connectors.http import HTTPConnector
from connectors.http.schema import markdown, openapi_document
from tests.connectors._web_fixtures import Recorder, running

PAGE = Path(__file__).resolve().parents[3] / "docs" / "reference" / "http-api.md"


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    validate(document)  # raises on an invalid document
    assert document["openapi"] == "3.1.0"
    request = document["components"]["schemas"]["MessageRequest"]["properties"]
    assert "callback_url" in request and "source" not in request and "created_at" not in request


def test_the_page_is_current() -> None:
    assert PAGE.read_text(encoding="utf-8") == markdown(), (
        "regenerate: python -m connectors.http.schema > docs/reference/http-api.md"
    )


async def test_served_with_every_route_and_the_documented_fields_accepted() -> None:
    http = HTTPConnector(port=0)
    agent = Recorder()
    async with running([http], [http], agent), aiohttp.ClientSession() as client:
        async with client.get(f"{http.url}/openapi.json") as resp:
            assert resp.status == 200
            served = await resp.json()
        assert served == openapi_document()
        assert http._runner is not None
        routes = {
            r.resource.canonical
            for r in http._runner.app.router.routes()
            if r.resource is not None and r.method != "HEAD"
        }
        assert routes == set(served["paths"])
        fields = set(served["components"]["schemas"]["MessageRequest"]["properties"])
        body = {
            "id": "doc-1",
            "conversation_id": "c",
            "author": {"id": "a", "name": "A"},
            "text": "every documented field",
            "attachments": [],
            "reply_to": "x",
            "depth": 0,
            "metadata": {"k": 1},
        }
        assert set(body) | {"payment", "callback_url"} == fields
        async with client.post(f"{http.url}/v1/messages", json=body) as resp:
            assert resp.status == 200, await resp.text()
    assert [m.text for m in agent.seen] == ["every documented field"]
