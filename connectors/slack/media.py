"""Slack files both ways: shared files in (``url_private`` with the bot token), uploads out
with the external upload flow.

In: each file of a message becomes an :class:`~agent_runner.message.Attachment` (its Slack
``id``, name, type and size) whose URL is ``url_private_download``. Downloading it needs
``Authorization: Bearer <bot token>``; the connector adds that header only for Slack's own
file hosts (``files.slack.com``, or the API host it was configured with), so the token never
goes elsewhere, and a model gets the bytes as ``data:``, never the URL.

Out: a reply's :class:`~agent_runner.message.File` objects go up with slack_sdk's
``files_upload_v2`` (``files.getUploadURLExternal``, a POST of the bytes to the returned
URL, ``files.completeUploadExternal`` sharing them in the reply's channel and thread), ten
at a time; a file past Slack's 1 GB is refused before anything is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from yarl import URL

from agent_runner.media import ResolvedFile, check_upload
from agent_runner.message import Attachment, File

MAX_UPLOAD_BYTES = 1024 * 1024 * 1024
"""Largest file Slack takes (1 GB)."""
FILES_PER_UPLOAD = 10
"""Files shared by one ``files.completeUploadExternal``."""
SLACK_FILE_HOSTS = ("files.slack.com", "slack-files.com")


def attachments(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The attachments of a Slack message event (its shared ``files``)."""
    found = []
    for file in event.get("files") or ():
        url = file.get("url_private_download") or file.get("url_private")
        if not isinstance(file, Mapping) or not url:
            continue  # a file the bot cannot see (``file_access: check_file_info``)
        found.append(
            {
                "url": str(url),
                "id": str(file.get("id") or "") or None,
                "filename": file.get("name") or file.get("title"),
                "content_type": file.get("mimetype"),
                "size": file.get("size"),
            }
        )
    return found


def resolve(attachment: Attachment, *, token: str, api_base: str) -> ResolvedFile:
    """The download of a Slack file: the bot token for Slack's file hosts only."""
    host = (URL(attachment.url).host or "").lower()
    api_host = (URL(api_base).host or "").lower()
    if host in SLACK_FILE_HOSTS or host == api_host:
        return ResolvedFile(
            url=attachment.url,
            headers={"Authorization": f"Bearer {token}"},
            trusted_host=api_host if host == api_host else None,
        )
    return ResolvedFile(url=attachment.url, public=True)


def check_uploads(files: Sequence[File]) -> None:
    """Refuse, before anything is sent, a file past Slack's limit."""
    for file in files:
        check_upload(file.name, file.size, limit=MAX_UPLOAD_BYTES, platform="Slack")


async def file_uploads(files: Sequence[File]) -> list[dict[str, Any]]:
    """``files_upload_v2``'s ``file_uploads`` (a path is read off the event loop)."""
    made = []
    for file in files:
        data = file.data if file.data is not None else await asyncio.to_thread(file.read)
        made.append({"file": data, "filename": file.name, "title": file.name})
    return made


__all__ = [
    "FILES_PER_UPLOAD",
    "MAX_UPLOAD_BYTES",
    "SLACK_FILE_HOSTS",
    "attachments",
    "check_uploads",
    "file_uploads",
    "resolve",
]
