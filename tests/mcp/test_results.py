"""What the model reads of MCP results, and the names and filters of MCP tools (pure)."""

from __future__ import annotations

import pytest
from mcp.types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

from agent_runner.mcp import exposed_name, is_allowed, result_text


def test_text_blocks_are_joined() -> None:
    result = CallToolResult(content=[TextContent(text="one"), TextContent(text="two")])
    assert result_text(result) == "one\ntwo"


def test_structured_content_shows_when_there_is_no_text() -> None:
    both = CallToolResult(content=[TextContent(text="3")], structured_content={"result": 3})
    assert result_text(both) == "3"
    only = CallToolResult(content=[], structured_content={"city": "Oslo", "temp": -3})
    assert result_text(only) == '{"city": "Oslo", "temp": -3}'


def test_media_and_resources_are_described() -> None:
    result = CallToolResult(
        content=[
            ImageContent(data="iVBORw0KGgo=", mime_type="image/png"),
            AudioContent(data="AAAA", mime_type="audio/wav"),
            ResourceLink(uri="file:///tmp/report.pdf", name="report"),
            EmbeddedResource(resource=TextResourceContents(uri="mem://note", text="a note")),
            EmbeddedResource(
                resource=BlobResourceContents(uri="mem://bin", blob="AAAA", mime_type="x/y")
            ),
        ]
    )
    assert result_text(result).splitlines() == [
        "[image: image/png, 8 bytes]",
        "[audio: audio/wav, 3 bytes]",
        "[resource: file:///tmp/report.pdf (report)]",
        "a note",
        "[resource mem://bin: x/y, 3 bytes]",
    ]


@pytest.mark.parametrize(
    ("name", "prefix", "exposed"),
    [
        ("search", "", "search"),
        ("repo.search", "gh_", "gh_repo_search"),
        ("a/b c", "", "a_b_c"),
        ("x" * 80, "p_", "p_" + "x" * 62),
    ],
)
def test_exposed_names_are_what_chat_apis_accept(name: str, prefix: str, exposed: str) -> None:
    assert exposed_name(name, prefix) == exposed


@pytest.mark.parametrize(
    ("name", "allow", "deny", "allowed"),
    [
        ("read_file", None, [], True),
        ("read_file", ["read_*"], [], True),
        ("write_file", ["read_*"], [], False),
        ("read_secret", ["read_*"], ["*secret*"], False),
        ("anything", [], [], False),
        ("Read_file", ["read_*"], [], False),
    ],
)
def test_filters(name: str, allow: list[str] | None, deny: list[str], allowed: bool) -> None:
    assert is_allowed(name, allow=allow, deny=deny) is allowed
