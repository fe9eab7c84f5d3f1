"""An MCP server's tools as the model sees them: names, filters, and results as text.

* **Names.** A tool is offered as ``prefix + name`` with anything but letters, digits, ``_``
  and ``-`` replaced by ``_`` and cut to 64 characters (what chat APIs accept); the server is
  still called with its own name.
* **Filters.** ``allow`` (None: every tool) and ``deny`` are shell-style globs
  (``"get_*"``, ``"*_admin"``) matched against the server's names; deny wins.
* **Results.** Text blocks are the result, joined by newlines. Structured content is shown
  as JSON when there is no text (servers are asked to repeat it as text). Images, audio and
  binary resources are described in one line (``[image: image/png, 2,048 bytes]``); a
  resource link by its URI.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.types import CallToolResult

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def exposed_name(name: str, prefix: str = "") -> str:
    """The name a server's tool is offered under.

    >>> exposed_name("repo.search", "gh_")
    'gh_repo_search'
    """
    return _UNSAFE.sub("_", prefix + name)[:64] or "_"


def is_allowed(name: str, *, allow: Sequence[str] | None, deny: Sequence[str]) -> bool:
    """True when ``name`` passes the filters (deny wins over allow).

    >>> is_allowed("delete_repo", allow=None, deny=["delete_*"])
    False
    >>> is_allowed("get_issue", allow=["get_*", "list_*"], deny=[])
    True
    """
    if any(fnmatchcase(name, pattern) for pattern in deny):
        return False
    return allow is None or any(fnmatchcase(name, pattern) for pattern in allow)


def result_text(result: CallToolResult) -> str:
    """The text the model reads for a tool result (see the module docstring)."""
    parts = [_block_text(block) for block in result.content]
    texts = [part for part in parts if part]
    if result.structured_content is not None and not any(
        block.type == "text" for block in result.content
    ):
        texts.append(json.dumps(result.structured_content, ensure_ascii=False, default=str))
    return "\n".join(texts)


def _block_text(block: Any) -> str:
    kind = getattr(block, "type", "")
    if kind == "text":
        return str(block.text)
    if kind in ("image", "audio"):
        return f"[{kind}: {block.mime_type}, {_size(block.data)} bytes]"
    if kind == "resource_link":
        label = f" ({block.name})" if getattr(block, "name", None) else ""
        return f"[resource: {block.uri}{label}]"
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        if text is not None:
            return str(text)
        mime = getattr(resource, "mime_type", None) or "binary"
        return f"[resource {resource.uri}: {mime}, {_size(resource.blob)} bytes]"
    return f"[{kind or 'unknown'} content]"


def _size(base64_data: str) -> str:
    """The decoded size of base64 data, without decoding it."""
    padding = base64_data.count("=", max(0, len(base64_data) - 2))
    return f"{max(0, len(base64_data) * 3 // 4 - padding):,}"


__all__ = ["exposed_name", "is_allowed", "result_text"]
