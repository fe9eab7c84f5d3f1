"""A reply's files on Discord: multipart uploads (discord.py's ``discord.File``), at most 10
files and 10 MiB a message, so more or bigger sets are split over several messages; a single
file past the limit is refused before anything is sent.

Attachments that come in are Discord CDN URLs, signed and public: a vision model gets them as
they are, and ``context.media.fetch`` downloads them without a token.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence

from agent_runner.media import check_upload
from agent_runner.message import File
from connectors.discord.sdk import discord

MAX_FILES = 10
"""Most files on one Discord message."""
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
"""Largest upload of a bot in a server without boosts (a file, and a message's files)."""


def batches(
    files: Sequence[File], *, max_files: int = MAX_FILES, max_bytes: int = MAX_UPLOAD_BYTES
) -> list[list[File]]:
    """``files`` grouped into messages of at most ``max_files`` files and ``max_bytes``.

    Raises:
        UploadRefusedError: a file is over ``max_bytes`` by itself.
    """
    groups: list[list[File]] = []
    size = 0
    for file in files:
        length = file.size
        check_upload(file.name, length, limit=max_bytes, platform="Discord")
        if not groups or len(groups[-1]) >= max_files or size + length > max_bytes:
            groups.append([])
            size = 0
        groups[-1].append(file)
        size += length
    return groups


async def discord_files(group: Sequence[File]) -> list[discord.File]:
    """The files as discord.py uploads them (a path is read off the event loop)."""
    made = []
    for file in group:
        data = file.data if file.data is not None else await asyncio.to_thread(file.read)
        made.append(discord.File(io.BytesIO(data), filename=file.name))
    return made


__all__ = ["MAX_FILES", "MAX_UPLOAD_BYTES", "batches", "discord_files"]
