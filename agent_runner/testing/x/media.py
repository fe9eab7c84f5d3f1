"""The fake X's media: pictures and videos on tweets, served over HTTP, and the bot's uploads.

Media a test puts on a mention (:meth:`FakeX.add_mention(..., media=...)
<agent_runner.testing.x.FakeX.add_mention>`) and media the bot uploads are both
:class:`FakeMedia`: a tweet lists their keys in ``attachments.media_keys``, a timeline renders
them in ``includes.media`` (``expansions=attachments.media_keys``, ``media.fields``), and the
fake serves their files under ``/pbs/`` as ``pbs.twimg.com`` does (a photo by its ``url``, a
video or GIF by its ``preview_image_url``, a still JPEG).

Uploads follow X API v2's chunked flow, with X's checks:

- ``POST /2/media/upload/initialize`` (JSON ``media_type``, ``total_bytes``,
  ``media_category``): a type X does not take, a category that does not fit the type, or a
  size past the category's limit (images 5 MiB, GIFs 15 MiB, videos 512 MiB) is refused with
  400; answers ``data.id``, ``media_key``, ``expires_after_secs``;
- ``POST /2/media/upload/{id}/append`` (multipart ``media`` + ``segment_index`` 0-999, or
  JSON with ``media`` in base64): a segment is at most 5 MiB;
- ``POST /2/media/upload/{id}/finalize``: the segments must add up to ``total_bytes``; a
  video or GIF answers ``processing_info`` (``pending``), and
- ``GET /2/media/upload?command=STATUS&media_id=``: ``succeeded`` after
  ``processing_checks`` calls.

``POST /2/tweets`` takes ``media.media_ids``: each must be finalized, processed, the
poster's, and not expired (``expires_after_secs`` on the fake's clock); at most four images,
or one GIF or video alone.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agent_runner.testing.x.endpoints import Problem

MEDIA_TYPES = frozenset(
    {
        "image/bmp",
        "image/gif",
        "image/jpeg",
        "image/pjpeg",
        "image/png",
        "image/tiff",
        "image/webp",
        "video/mp2t",
        "video/mp4",
        "video/quicktime",
        "video/webm",
    }
)
"""The ``media_type`` values the fake's initialize takes (X's list, minus subtitles and 3D)."""
CATEGORY_LIMITS: Mapping[str, int] = {
    "tweet_image": 5 * 1024 * 1024,
    "tweet_gif": 15 * 1024 * 1024,
    "tweet_video": 512 * 1024 * 1024,
}
"""Largest upload per ``media_category``."""
MAX_SEGMENT_BYTES = 5 * 1024 * 1024
"""Largest ``append`` segment."""
EXPIRES_AFTER_SECS = 86_400
"""How long an uploaded media id can be attached to a post."""
PREVIEW_JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"\x00" * 32
    + b"\xff\xd9"
)
"""The still the fake serves as a video's or GIF's ``preview_image_url``."""

MediaKind = Literal["photo", "video", "animated_gif"]
_KEY_PREFIX: Mapping[MediaKind, str] = {"photo": "3", "video": "7", "animated_gif": "16"}


def _invalid(detail: str) -> Problem:
    """X's 400 for an upload or attachment it refuses."""
    return Problem(400, "Invalid Request", detail)


@dataclass(slots=True)
class FakeMedia:
    """A picture, GIF or video on the fake X (a user's, or one the bot uploaded)."""

    id: str
    type: MediaKind
    data: bytes = field(repr=False)
    content_type: str
    owner_id: str
    alt_text: str | None = None
    width: int = 2
    height: int = 2

    @property
    def media_key(self) -> str:
        return f"{_KEY_PREFIX[self.type]}_{self.id}"

    @property
    def path(self) -> str:
        """Where the fake serves what a client sees of it (under ``/pbs/``)."""
        if self.type == "photo":
            extension = mimetypes.guess_extension(self.content_type) or ".jpg"
            return f"/pbs/media/{self.id}{extension}"
        if self.type == "video":
            return f"/pbs/ext_tw_video_thumb/{self.id}/pu/img/{self.id}.jpg"
        return f"/pbs/tweet_video_thumb/{self.id}.jpg"

    @property
    def served(self) -> tuple[bytes, str]:
        """The bytes and type served at :attr:`path`: the photo, or the preview still."""
        if self.type == "photo":
            return self.data, self.content_type
        return PREVIEW_JPEG, "image/jpeg"

    def render(self, fields: Iterable[str], base_url: str) -> dict[str, Any]:
        out: dict[str, Any] = {"media_key": self.media_key, "type": self.type}
        for name in fields:
            if name == "url" and self.type == "photo":
                out[name] = base_url + self.path
            elif name == "preview_image_url" and self.type != "photo":
                out[name] = base_url + self.path
            elif name in ("width", "height"):
                out[name] = getattr(self, name)
            elif name == "alt_text" and self.alt_text:
                out[name] = self.alt_text
        return out


def kind_of(content_type: str) -> MediaKind:
    """What X calls a medium of ``content_type``."""
    if content_type == "image/gif":
        return "animated_gif"
    return "video" if content_type.startswith("video/") else "photo"


@dataclass(slots=True)
class FakeUpload:
    """One upload session of the bot: what it sent and what became of it."""

    media_id: str
    media_type: str
    category: str
    total_bytes: int
    owner_id: str
    expires_at: float
    segments: dict[int, bytes] = field(default_factory=dict, repr=False)
    finalized: bool = False
    state: str | None = None
    """``processing_info.state`` for videos and GIFs (``pending`` ... ``succeeded``)."""
    checks_left: int = 0
    error: str | None = None
    """Why processing fails (it ends ``failed``), when a test asked for it."""
    media: FakeMedia | None = None
    """The medium, once finalized."""

    @property
    def data(self) -> bytes:
        """The bytes uploaded, segments in order."""
        return b"".join(self.segments[i] for i in sorted(self.segments))

    @property
    def media_key(self) -> str:
        return f"{_KEY_PREFIX[kind_of(self.media_type)]}_{self.media_id}"

    @property
    def ready(self) -> bool:
        return self.finalized and self.state in (None, "succeeded")

    def status(self, now: float, *, check_after: int) -> dict[str, Any]:
        """The ``data`` of an upload's status (INIT, FINALIZE and STATUS answers)."""
        data: dict[str, Any] = {
            "id": self.media_id,
            "media_key": self.media_key,
            "expires_after_secs": max(0, int(self.expires_at - now)),
        }
        if self.finalized:
            data["size"] = len(self.data)
        if self.state is not None:
            info: dict[str, Any] = {"state": self.state}
            if self.state in ("pending", "in_progress"):
                info["check_after_secs"] = check_after
                info["progress_percent"] = 0 if self.state == "pending" else 50
            elif self.state == "failed":
                info["error"] = {"code": 1, "name": "InvalidMedia", "message": self.error}
            data["processing_info"] = info
        return data


def initialize(body: Any, *, media_id: str, owner_id: str, now: float) -> FakeUpload:
    """``POST /2/media/upload/initialize``: a new upload session, or Problem."""
    if not isinstance(body, dict):
        raise _invalid("The request body is not valid JSON")
    media_type = body.get("media_type")
    total = body.get("total_bytes")
    if media_type not in MEDIA_TYPES:
        raise _invalid(f"media_type {media_type!r} is not supported")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise _invalid("total_bytes must be a positive integer")
    kind = kind_of(media_type)
    default = {"photo": "tweet_image", "animated_gif": "tweet_gif", "video": "tweet_video"}[kind]
    category = body.get("media_category") or default
    if category not in CATEGORY_LIMITS:
        raise _invalid(f"media_category {category!r} is not supported")
    fits = {"tweet_image": kind == "photo", "tweet_gif": media_type == "image/gif"}
    if not fits.get(category, kind == "video"):
        raise _invalid(f"media_type {media_type} does not fit {category}")
    if total > CATEGORY_LIMITS[category]:
        raise _invalid(f"File size exceeds {CATEGORY_LIMITS[category]} bytes.")
    return FakeUpload(
        media_id=media_id,
        media_type=media_type,
        category=category,
        total_bytes=total,
        owner_id=owner_id,
        expires_at=now + EXPIRES_AFTER_SECS,
    )


def append(upload: FakeUpload, form: Mapping[str, Any]) -> None:
    """``POST /2/media/upload/{id}/append``: store one segment, or Problem."""
    if upload.finalized:
        raise _invalid("The upload is already finalized")
    try:
        index = int(form.get("segment_index", ""))
    except (TypeError, ValueError):
        raise _invalid("segment_index must be an integer") from None
    if not 0 <= index <= 999:
        raise _invalid("segment_index must be between 0 and 999")
    chunk = form.get("media")
    if isinstance(chunk, str):  # the JSON form: base64
        try:
            chunk = base64.b64decode(chunk, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid("media is not valid base64") from None
    if not isinstance(chunk, bytes) or not chunk:
        raise _invalid("media is missing")
    if len(chunk) > MAX_SEGMENT_BYTES:
        raise _invalid(f"Segment size exceeds {MAX_SEGMENT_BYTES} bytes.")
    upload.segments[index] = chunk
    if sum(len(s) for s in upload.segments.values()) > upload.total_bytes:
        raise _invalid("Segments are larger than total_bytes")


def finalize(upload: FakeUpload, *, processing_checks: int) -> FakeMedia:
    """``POST /2/media/upload/{id}/finalize``: the medium, or Problem."""
    if upload.finalized:
        raise _invalid("The upload is already finalized")
    size = len(upload.data)
    if size != upload.total_bytes:
        raise _invalid(f"Received {size} bytes of the {upload.total_bytes} announced")
    upload.finalized = True
    kind = kind_of(upload.media_type)
    if kind != "photo":
        upload.state = "pending"
        upload.checks_left = processing_checks
    upload.media = FakeMedia(
        id=upload.media_id,
        type=kind,
        data=upload.data,
        content_type=upload.media_type,
        owner_id=upload.owner_id,
    )
    return upload.media


def check_status(upload: FakeUpload) -> None:
    """``GET /2/media/upload?command=STATUS``: processing moves on at each call."""
    if upload.state in ("pending", "in_progress"):
        upload.checks_left -= 1
        if upload.checks_left > 0:
            upload.state = "in_progress"
        else:
            upload.state = "failed" if upload.error else "succeeded"


def attachable(
    media_ids: Any, uploads: Mapping[str, FakeUpload], *, owner_id: str, now: float
) -> tuple[str, ...]:
    """The media keys of ``POST /2/tweets``'s ``media.media_ids``, or Problem."""
    if not isinstance(media_ids, list) or not media_ids:
        raise _invalid("media.media_ids must be a non-empty list")
    found = []
    for media_id in media_ids:
        upload = uploads.get(str(media_id))
        if (
            upload is None
            or upload.owner_id != owner_id
            or not upload.ready
            or upload.expires_at <= now
        ):
            raise _invalid("Your media IDs are invalid.")
        found.append(upload)
    kinds = [kind_of(u.media_type) for u in found]
    if len(found) > 4 or (len(found) > 1 and any(k != "photo" for k in kinds)):
        raise _invalid("A post takes at most 4 images, or one GIF or video alone")
    return tuple(u.media_key for u in found)


__all__ = [
    "CATEGORY_LIMITS",
    "EXPIRES_AFTER_SECS",
    "FakeMedia",
    "FakeUpload",
    "MAX_SEGMENT_BYTES",
    "MEDIA_TYPES",
    "MediaKind",
    "PREVIEW_JPEG",
    "append",
    "attachable",
    "check_status",
    "finalize",
    "initialize",
    "kind_of",
]
