"""StreamMessage: one message read from a partition stream, and the answer it gets.

A stream entry carries one message or several (``h, d, h1, d1, ...``, see
docs/concepts/distributed.md); each is handled on its own and marked by its :data:`Mark`, the
position that an agent's watermark records once it is handled.
"""

from __future__ import annotations

from typing import Any

from agent_runner.distributed._partitions import PartitionState
from agent_runner.distributed._wire import (
    ERROR,
    EVENT,
    JSON_CONTENT_TYPE,
    PROTOCOL_VERSION,
    REPLY,
    Header,
    dump_header,
    error_info,
)

Mark = tuple[int, int, int]
"""Position of a message in its partition: (entry ms, entry seq, index in the entry)."""

Encoded = tuple[str, str, bytes]
"""A payload as the codec encodes it: (type name, content type, data)."""


def parse_mark(text: bytes | str) -> Mark | None:
    """``"ms-seq:index"`` -> Mark (None when malformed)."""
    raw = text.decode() if isinstance(text, bytes) else text
    entry, _, index = raw.partition(":")
    ms, _, seq = entry.partition("-")
    try:
        return int(ms), int(seq or 0), int(index or 0)
    except ValueError:
        return None


def format_mark(mark: Mark) -> str:
    """Mark -> ``"ms-seq:index"`` (as stored in ``{p}:seen:{type}``)."""
    ms, seq, index = mark
    return f"{ms}-{seq}:{index}"


class StreamMessage:
    """One message of a stream entry, as read by the worker that owns the partition."""

    __slots__ = ("data", "entry_id", "header", "in_order", "mark", "part", "replayed")

    def __init__(
        self,
        part: PartitionState,
        entry_id: bytes,
        header: Header,
        data: bytes,
        index: int = 0,
        replayed: bool = False,
    ) -> None:
        self.part = part
        self.entry_id = entry_id
        self.header = header
        self.data = data
        ms, _, seq = entry_id.partition(b"-")
        self.mark: Mark = (int(ms), int(seq or 0), index)
        self.replayed = replayed
        """Read again (claimed, or re-read after a restart): may have been handled before."""
        self.in_order = True
        """Handled in its agent's turn order (not a reentrant call or a concurrent handler):
        only then does it move the agent's watermark."""

    def answer(
        self, reply: Encoded | None, error: BaseException | None, *, worker: str
    ) -> tuple[Any, ...] | None:
        """The ``XADD`` of the reply or error to the caller's stream (None for events and
        for messages nobody waits on)."""
        header = self.header
        rid = header.get("rid")
        reply_to = header.get("reply_to")
        if rid is None or not reply_to or header["kind"] == EVENT:
            return None
        out: Header = {"v": PROTOCOL_VERSION, "rid": rid, "worker": worker}
        data = b""
        if error is not None:
            out["kind"] = ERROR
            out["error"] = error_info(error)
            out["to"] = header.get("to", "")
        else:
            if reply is None:
                reply = ("null", JSON_CONTENT_TYPE, b"null")
            out["kind"] = REPLY
            out["type"], out["ct"], data = reply
        return ("XADD", reply_to, "*", "h", dump_header(out), "d", data)


__all__ = ["Encoded", "Mark", "StreamMessage", "format_mark", "parse_mark"]
