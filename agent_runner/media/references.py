"""Attachments in short-term memory: kept by reference, never as bytes.

The runner stores a turn's attachments in its memory item's ``meta`` (``"attachments"``):
URLs and platform file ids, which a later turn can fetch or show again. A ``data:`` URL
(the file itself) is not kept: its turn remembers the file's name and type only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from agent_runner.message import Attachment

META_KEY = "attachments"
"""``MemoryItem.meta`` key of a turn's attachments."""
OMITTED_URL = "data:,"
"""What a remembered ``data:`` attachment's URL becomes (an empty file)."""


def attachments_meta(attachments: Sequence[Attachment]) -> dict[str, Any] | None:
    """The ``meta`` to remember with a turn that had ``attachments`` (None: it had none).

    >>> attachments_meta([Attachment(url="data:image/png;base64,AAAA", filename="a.png")])
    {'attachments': [{'url': 'data:,', 'filename': 'a.png', 'content_type': 'image/png'}]}
    """
    if not attachments:
        return None
    kept = []
    for attachment in attachments:
        if attachment.url.startswith("data:"):
            content_type = attachment.content_type
            if content_type is None:
                content_type = attachment.url[5:].split(";", 1)[0].split(",", 1)[0] or None
            attachment = attachment.model_copy(
                update={"url": OMITTED_URL, "content_type": content_type}
            )
        kept.append(attachment.model_dump(mode="json", exclude_none=True))
    return {META_KEY: kept}


def attachments_from_meta(meta: Mapping[str, Any]) -> tuple[Attachment, ...]:
    """The attachments a remembered turn had (invalid entries are skipped)."""
    found = []
    for entry in meta.get(META_KEY) or ():
        try:
            found.append(Attachment.model_validate(entry))
        except ValidationError:
            continue
    return tuple(found)


def is_omitted(attachment: Attachment) -> bool:
    """True for a remembered ``data:`` attachment whose content was not kept."""
    return attachment.url == OMITTED_URL


__all__ = ["META_KEY", "OMITTED_URL", "attachments_from_meta", "attachments_meta", "is_omitted"]
