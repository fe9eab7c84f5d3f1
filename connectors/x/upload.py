"""Uploading a reply's files to X: media upload v2, in chunks, signed with OAuth 1.0a.

One file is one upload session, the flow X documents for every media type:

1. ``POST /2/media/upload/initialize`` (JSON ``media_type``, ``total_bytes``,
   ``media_category``) gives the media id;
2. ``POST /2/media/upload/{id}/append``, multipart, one segment of at most 4 MiB each
   (``segment_index`` 0, 1, ...; a file given by path is read a segment at a time, off the
   event loop);
3. ``POST /2/media/upload/{id}/finalize``; when the answer has ``processing_info`` (videos,
   GIFs), ``GET /2/media/upload?command=STATUS`` after each ``check_after_secs`` until the
   state is ``succeeded`` (``failed``: the file is refused), within a cap.

tweepy's ``AsyncClient`` has no media upload v2: the JSON calls go through its ``request``
(which signs them), the multipart appends are signed by the same signer (oauthlib) on the
same session (:meth:`connectors.x.api.XApi.user_form`). Each call waits and retries as every
X call does; all of them are safe to repeat (a segment appended twice is the same segment;
a session started twice leaves one unused, which X lets expire).

A media id is used at once, by the post it was uploaded for: a post retried later (after a
crash, say) uploads its files again rather than trust an id that may have expired.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from agent_runner.errors import ConnectorError, UploadRefusedError
from agent_runner.message import File
from connectors.x.api import XApi
from connectors.x.media import Category

log = logging.getLogger("connectors.x")

SEGMENT_BYTES = 4 * 1024 * 1024
"""Bytes per ``append`` (X takes segments up to 5 MiB)."""
MAX_PROCESSING_WAIT = 600.0
"""Seconds waited, at most, for X to process a video or GIF."""
_MAX_CHECK_AFTER = 60.0


class MediaUploader:
    """Uploads files for one X account.

    Args:
        api: the account's API client.
        sleep: how to wait between STATUS checks (injected in tests).
        max_wait: seconds waited at most for processing.
    """

    def __init__(
        self,
        api: XApi,
        *,
        sleep: Callable[[float], Awaitable[None]],
        max_wait: float = MAX_PROCESSING_WAIT,
    ) -> None:
        self._api = api
        self._sleep = sleep
        self.max_wait = max_wait

    async def upload(self, file: File, category: Category) -> str:
        """Upload ``file``; its media id once X can attach it to a post.

        Raises:
            UploadRefusedError: X could not process it (a broken video, say).
            ConnectorError: X was still processing it after :attr:`max_wait` seconds.
            DeliveryError: X refused a request (its limits, say).
        """
        started = await self._api.user_request(
            "media_initialize",
            "POST",
            "/2/media/upload/initialize",
            json={
                "media_type": file.content_type,
                "total_bytes": file.size,
                "media_category": category,
            },
        )
        media_id = str(started["data"]["id"])
        index = 0
        async for segment in _segments(file):
            await self._api.user_form(
                "media_append",
                f"/2/media/upload/{media_id}/append",
                {"segment_index": str(index)},
                ("media", segment),
            )
            index += 1
        done = await self._api.user_request(
            "media_finalize", "POST", f"/2/media/upload/{media_id}/finalize"
        )
        await self._processed(file, media_id, done.get("data") or {})
        log.info(
            "x: uploaded %s (%d bytes, %s) as media %s", file.name, file.size, category, media_id
        )
        return media_id

    async def _processed(self, file: File, media_id: str, data: dict[str, Any]) -> None:
        """Wait until X has processed the upload (at once when it needs no processing)."""
        waited = 0.0
        while True:
            info = data.get("processing_info") or {}
            state = info.get("state")
            if state in (None, "succeeded"):
                return
            if state == "failed":
                error = info.get("error") or {}
                reason = error.get("message") or error.get("name") or "no reason given"
                raise UploadRefusedError(
                    f"{file.name}: X could not process it ({reason})",
                    name=file.name,
                    size=file.size,
                )
            delay = min(_MAX_CHECK_AFTER, max(1.0, float(info.get("check_after_secs") or 1)))
            if waited + delay > self.max_wait:
                raise ConnectorError(
                    f"{file.name}: X was still processing it after {waited:.0f}s "
                    f"(state {state}); not posted"
                )
            await self._sleep(delay)
            waited += delay
            status = await self._api.user_request(
                "media_status",
                "GET",
                "/2/media/upload",
                params={"command": "STATUS", "media_id": media_id},
            )
            data = status.get("data") or {}


async def _segments(file: File) -> AsyncIterator[bytes]:
    """The file's bytes, :data:`SEGMENT_BYTES` at a time (a path read off the event loop)."""
    if file.data is not None:
        for start in range(0, len(file.data), SEGMENT_BYTES):
            yield file.data[start : start + SEGMENT_BYTES]
        return
    assert file.path is not None
    handle = await asyncio.to_thread(file.path.open, "rb")
    try:
        while segment := await asyncio.to_thread(handle.read, SEGMENT_BYTES):
            yield segment
    finally:
        await asyncio.to_thread(handle.close)


__all__ = ["MAX_PROCESSING_WAIT", "SEGMENT_BYTES", "MediaUploader"]
