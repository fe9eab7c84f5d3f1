"""Files in HTTP answers: a reply's :class:`~agent_runner.message.File` objects as base64.

``POST /v1/messages`` answers (and callbacks) carry them in each reply's ``files``:
``{"name", "content_type", "size", "data"}`` with ``data`` in base64. The
OpenAI-compatible endpoint has no field for files: they are appended to the answer's text as
Markdown links with ``data:`` URLs (images as ``![name](data:...)``, which chat front ends
show inline). A file over 8 MiB is not inlined: its entry has an ``error`` instead (the name,
the size, the limit).

Files given by path are read here, off the event loop, before the answer is built.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from typing import Any

from agent_runner.media import describe_size
from agent_runner.message import MAX_DATA_URL_BYTES, File, Reply

MAX_FILE_BYTES = MAX_DATA_URL_BYTES
"""Largest file inlined in an HTTP answer (8 MiB)."""


async def loaded(reply: Reply) -> Reply:
    """``reply`` with every file's bytes in memory (paths read in a thread)."""
    if all(file.data is not None for file in reply.files):
        return reply
    files = []
    for file in reply.files:
        if file.data is None and file.size <= MAX_FILE_BYTES:
            data = await asyncio.to_thread(file.read)
            file = File(name=file.name, data=data, content_type=file.content_type)
        files.append(file)
    return reply.model_copy(update={"files": tuple(files)})


def refusal(file: File) -> str | None:
    """Why ``file`` is not inlined, or None."""
    size = file.size
    if size > MAX_FILE_BYTES:
        return (
            f"{file.name}: {describe_size(size)} is over the limit of "
            f"{describe_size(MAX_FILE_BYTES)} for a file in an HTTP answer"
        )
    return None


def file_json(file: File) -> dict[str, Any]:
    """One file as the API shows it: base64 ``data``, or an ``error``."""
    body: dict[str, Any] = {"name": file.name, "content_type": file.content_type}
    body["size"] = file.size
    reason = refusal(file)
    if reason is not None or file.data is None:
        body["error"] = reason or f"{file.name}: not read"
    else:
        body["data"] = base64.b64encode(file.data).decode("ascii")
    return body


def markdown_links(files: Sequence[File]) -> str:
    """Files as Markdown ``data:`` links, one a line (the OpenAI-compatible answer)."""
    lines = []
    for file in files:
        reason = refusal(file)
        if reason is not None or file.data is None:
            lines.append(f"[{file.name}: {reason or 'not read'}]")
            continue
        url = f"data:{file.content_type};base64,{base64.b64encode(file.data).decode('ascii')}"
        lines.append(f"{'!' if file.is_image else ''}[{file.name}]({url})")
    return "\n".join(lines)


__all__ = ["MAX_FILE_BYTES", "file_json", "loaded", "markdown_links", "refusal"]
