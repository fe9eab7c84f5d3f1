"""X media both ways, as pure functions: mentions' media in, a reply's files planned out.

In: a mention's ``attachments.media_keys`` point into the response's ``includes.media``
(asked for with ``expansions=attachments.media_keys`` and :data:`MEDIA_FIELDS`). A photo
becomes an :class:`~agent_runner.message.Attachment` by its ``url``; a video or an animated
GIF by its ``preview_image_url`` (a still JPEG: its file name says ``video-preview`` or
``gif-preview``, since a vision model sees a frame, not the clip). X's media URLs
(``pbs.twimg.com``) are public, so a vision model gets them as they are and
``context.media.fetch`` downloads them without a token. (The ``https://t.co/...`` link X
appends to a tweet's text for its media is dropped from the message text:
:func:`connectors.x.mentions.written_text`.)

Out: a reply's :class:`~agent_runner.message.File` objects are checked against X's limits
(:func:`check_files`: images 5 MiB, GIFs 15 MiB, videos 512 MiB, and the types X takes)
before anything is uploaded, then grouped (:func:`media_groups`): up to four images on a
post, or one GIF or one video alone. The groups ride on the reply's thread, the first on its
first post; more groups than parts continue the thread as posts of media only.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from yarl import URL

from agent_runner.errors import UploadRefusedError
from agent_runner.media import check_upload
from agent_runner.message import File

MEDIA_FIELDS = ("alt_text", "height", "media_key", "preview_image_url", "type", "url", "width")
"""The ``media.fields`` the connector asks for with a mention's media."""

MAX_IMAGE_BYTES = 5 * 1024 * 1024
"""Largest image X takes (``tweet_image``)."""
MAX_GIF_BYTES = 15 * 1024 * 1024
"""Largest animated GIF X takes (``tweet_gif``)."""
MAX_VIDEO_BYTES = 512 * 1024 * 1024
"""Largest video X takes (``tweet_video``)."""
MAX_IMAGES_PER_POST = 4
"""Most images on one post (a GIF or a video goes alone)."""

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
"""Image types uploaded as ``tweet_image``."""
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
"""Video types uploaded as ``tweet_video``."""

Category = Literal["tweet_image", "tweet_gif", "tweet_video"]
_LIMITS: Mapping[Category, int] = {
    "tweet_image": MAX_IMAGE_BYTES,
    "tweet_gif": MAX_GIF_BYTES,
    "tweet_video": MAX_VIDEO_BYTES,
}


# -- in ------------------------------------------------------------------------------------
def media_by_key(includes: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``includes.media`` of a response, by ``media_key``."""
    found: dict[str, dict[str, Any]] = {}
    for item in (includes or {}).get("media") or ():
        if isinstance(item, dict) and item.get("media_key"):
            found[str(item["media_key"])] = item
    return found


def attachments(
    tweet: Mapping[str, Any], media: Mapping[str, Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The attachments of ``tweet`` (Attachment fields) and what X said of each medium
    (``media_key``, ``type``, ``alt_text``, size in pixels), for the message's metadata."""
    found: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    for key in (tweet.get("attachments") or {}).get("media_keys") or ():
        item = media.get(str(key))
        if item is None:
            continue
        kind = item.get("type")
        url = item.get("url") if kind == "photo" else item.get("preview_image_url")
        if not isinstance(url, str) or not url:
            continue
        name = URL(url).name or f"{key}.jpg"
        if kind != "photo":
            name = f"{'gif' if kind == 'animated_gif' else 'video'}-preview-{name}"
        found.append(
            {
                "url": url,
                "id": str(key),
                "filename": name,
                "content_type": mimetypes.guess_type(name)[0] or "image/jpeg",
            }
        )
        detail = {"media_key": str(key), "type": kind, "url": url}
        for field in ("alt_text", "width", "height"):
            if item.get(field) is not None:
                detail[field] = item[field]
        details.append(detail)
    return found, details


def media_count(tweet: Mapping[str, Any]) -> int:
    """How many media a tweet carries (its ``attachments.media_keys``)."""
    return len((tweet.get("attachments") or {}).get("media_keys") or ())


# -- out -----------------------------------------------------------------------------------
def category(file: File) -> Category | None:
    """X's ``media_category`` for ``file``, or None for a type X does not take."""
    content_type = (file.content_type or "").split(";", 1)[0].strip().lower()
    if content_type == "image/gif":
        return "tweet_gif"
    if content_type in IMAGE_TYPES:
        return "tweet_image"
    if content_type in VIDEO_TYPES:
        return "tweet_video"
    return None


def check_files(files: Sequence[File]) -> list[Category]:
    """Each file's category; refuses, before anything is uploaded, a type X does not take or
    a file past its category's limit.

    Raises:
        UploadRefusedError: naming the file, its size or type, and the limit.
    """
    kinds: list[Category] = []
    for file in files:
        kind = category(file)
        if kind is None:
            accepted = ", ".join(sorted({*IMAGE_TYPES, "image/gif", *VIDEO_TYPES}))
            raise UploadRefusedError(
                f"{file.name}: X does not take {file.content_type} files (it takes {accepted})",
                name=file.name,
            )
        check_upload(file.name, file.size, limit=_LIMITS[kind], platform="X")
        kinds.append(kind)
    return kinds


def media_groups(files: Sequence[File], kinds: Sequence[Category]) -> list[list[File]]:
    """``files`` grouped into posts, in order: up to four images together, a GIF or a
    video alone.

    >>> png = File(name="a.png", data=b"x")
    >>> [len(g) for g in media_groups([png] * 5, ["tweet_image"] * 5)]
    [4, 1]
    """
    groups: list[list[File]] = []
    open_for_images = False
    for file, kind in zip(files, kinds, strict=True):
        if kind == "tweet_image" and open_for_images and len(groups[-1]) < MAX_IMAGES_PER_POST:
            groups[-1].append(file)
            continue
        groups.append([file])
        open_for_images = kind == "tweet_image"
    return groups


@dataclass(frozen=True, slots=True)
class Post:
    """One post of a reply's thread: its text (may be empty when it has media) and files."""

    text: str
    files: tuple[File, ...] = ()


def with_media(parts: Sequence[str], groups: Sequence[Sequence[File]]) -> list[Post]:
    """The thread's posts: group ``i`` on part ``i``; groups past the parts continue the
    thread as posts of media only."""
    count = max(len(parts), len(groups))
    return [
        Post(
            parts[i] if i < len(parts) else "",
            tuple(groups[i]) if i < len(groups) else (),
        )
        for i in range(count)
    ]


__all__ = [
    "IMAGE_TYPES",
    "MAX_GIF_BYTES",
    "MAX_IMAGES_PER_POST",
    "MAX_IMAGE_BYTES",
    "MAX_VIDEO_BYTES",
    "MEDIA_FIELDS",
    "VIDEO_TYPES",
    "Category",
    "Post",
    "attachments",
    "category",
    "check_files",
    "media_by_key",
    "media_count",
    "media_groups",
    "with_media",
]
