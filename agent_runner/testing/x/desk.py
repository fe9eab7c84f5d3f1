"""The fake X's media desk: the media on its tweets, the bot's uploads, the files it serves.

:class:`MediaDesk` is the state behind the media endpoints (see
:mod:`agent_runner.testing.x.media` for what each checks); :class:`~agent_runner.testing.x.FakeX`
owns one, routes the upload endpoints to it and serves its files under ``/pbs/``.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from agent_runner.testing.x.endpoints import Answer, Problem
from agent_runner.testing.x.media import (
    FakeMedia,
    FakeUpload,
    append,
    attachable,
    check_status,
    finalize,
    initialize,
    kind_of,
)

Handle = Callable[[web.Request, Any], Answer]
"""An endpoint's answer to a request and its body."""
MediaInput = tuple[str, bytes] | tuple[str, bytes, str]
"""A medium a test puts on a tweet: ``(file name, bytes)`` or ``(name, bytes, alt text)``;
the type comes from the name (``.gif`` is an animated GIF, ``.mp4`` a video)."""


class MediaDesk:
    """Media, uploads and downloads of one fake X.

    Args:
        new_id: a fresh snowflake id.
        clock: Unix time (media ids expire on it).
        processing_checks: STATUS calls before an uploaded video or GIF is processed.
        check_after_secs: the ``processing_info.check_after_secs`` answered.
    """

    def __init__(
        self,
        *,
        new_id: Callable[[], str],
        clock: Callable[[], float],
        processing_checks: int,
        check_after_secs: int,
    ) -> None:
        self._new_id = new_id
        self._clock = clock
        self.processing_checks = processing_checks
        self.check_after_secs = check_after_secs
        self.media: dict[str, FakeMedia] = {}
        self.uploads: list[FakeUpload] = []
        self.downloads: list[str] = []
        self._failing: list[str] = []

    def fail_processing(self, message: str = "Unsupported video format") -> None:
        """Make the next uploaded video or GIF fail processing with ``message``."""
        self._failing.append(message)

    def add(self, owner_id: str, name: str, data: bytes, alt_text: str | None = None) -> FakeMedia:
        """A user's medium (its type from ``name``), ready to put on a tweet."""
        content_type = mimetypes.guess_type(name)[0] or "image/jpeg"
        media = FakeMedia(
            id=self._new_id(),
            type=kind_of(content_type),
            data=data,
            content_type=content_type,
            owner_id=owner_id,
            alt_text=alt_text,
        )
        self.media[media.media_key] = media
        return media

    def attach(self, body: Mapping[str, Any], owner_id: str) -> tuple[str, ...]:
        """The media keys a ``POST /2/tweets`` body attaches (``media.media_ids``)."""
        wanted = body.get("media")
        if wanted is None:
            return ()
        media_ids = wanted.get("media_ids") if isinstance(wanted, dict) else None
        return attachable(media_ids, self._by_id(), owner_id=owner_id, now=self._clock())

    def serve(self, path: str) -> tuple[bytes, str]:
        """The bytes and type served at ``path`` (recorded in :attr:`downloads`)."""
        found = next((m for m in self.media.values() if m.path == path), None)
        if found is None:
            raise web.HTTPNotFound()
        self.downloads.append(path)
        return found.served

    def endpoints(self, owner_id: Callable[[], str]) -> list[tuple[str, str, str, Handle]]:
        """``(method, path, endpoint name, handle)`` of each upload endpoint."""
        return [
            (
                "POST",
                "/2/media/upload/initialize",
                "media_initialize",
                lambda request, body: self._initialize(body, owner_id()),
            ),
            (
                "POST",
                "/2/media/upload/{id}/append",
                "media_append",
                lambda request, body: self._append(request.match_info["id"], body),
            ),
            (
                "POST",
                "/2/media/upload/{id}/finalize",
                "media_finalize",
                lambda request, body: self._finalize(request.match_info["id"]),
            ),
            (
                "GET",
                "/2/media/upload",
                "media_status",
                lambda request, body: self._status(request.query),
            ),
        ]

    # -- endpoints ---------------------------------------------------------------------------
    def _initialize(self, body: Any, owner_id: str) -> Answer:
        upload = initialize(body, media_id=self._new_id(), owner_id=owner_id, now=self._clock())
        self.uploads.append(upload)
        return self._answer(upload)

    def _append(self, media_id: str, body: Any) -> Answer:
        upload = self._upload(media_id)
        append(upload, body if isinstance(body, dict) else {})
        return 200, {"data": {"expires_at": int(upload.expires_at)}}

    def _finalize(self, media_id: str) -> Answer:
        upload = self._upload(media_id)
        media = finalize(upload, processing_checks=self.processing_checks)
        if upload.state is not None and self._failing:
            upload.error = self._failing.pop(0)
        self.media[media.media_key] = media
        return self._answer(upload)

    def _status(self, query: Mapping[str, str]) -> Answer:
        if query.get("command") != "STATUS":
            raise Problem(400, "Invalid Request", "command must be STATUS")
        upload = self._upload(query.get("media_id", ""))
        check_status(upload)
        return self._answer(upload)

    def _by_id(self) -> dict[str, FakeUpload]:
        return {u.media_id: u for u in self.uploads}

    def _upload(self, media_id: str) -> FakeUpload:
        upload = self._by_id().get(media_id)
        if upload is None:
            raise Problem(400, "Invalid Request", f"Unknown media id {media_id}")
        return upload

    def _answer(self, upload: FakeUpload) -> Answer:
        return 200, {"data": upload.status(self._clock(), check_after=self.check_after_secs)}


def without_segments(endpoint: str, body: Any) -> Any:
    """``body`` as :attr:`FakeX.requests <agent_runner.testing.x.FakeX.requests>` records it:
    an appended segment is in its upload, not repeated there."""
    if endpoint == "media_append" and isinstance(body, dict):
        return {k: v for k, v in body.items() if k != "media"}
    return body


async def read_body(request: web.Request) -> Any:
    """The request's JSON, or its multipart form (files as bytes); None without a body."""
    if not request.can_read_body:
        return None
    if request.content_type == "multipart/form-data":
        form = await request.post()
        return {
            key: value.file.read() if isinstance(value, web.FileField) else value
            for key, value in form.items()
        }
    try:
        return await request.json()
    except ValueError:
        return None


__all__ = ["Handle", "MediaDesk", "MediaInput", "read_body", "without_segments"]
