"""Split a reply into Discord messages: at most 2,000 characters each, code blocks intact.

A pure function. Cut points, best first: a paragraph break, a line break, a space, and
only when a piece of text has none of them, anywhere. Cuts are made outside code blocks
whenever the block can fit in a message of its own; a block longer than a message is cut
at a line inside it, and the block is closed at the end of the part (```` ``` ````) and
reopened with its language (```` ```python ````) at the start of the next, so every part
renders as valid Markdown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DISCORD_LIMIT = 2000
"""Discord's limit on a message's content, in characters."""
FENCE = "```"
_LANG = re.compile(r"```([\w+#.-]*)\n")
_CLOSE = "\n" + FENCE


@dataclass(frozen=True, slots=True)
class _Block:
    """A fenced code block: ``start`` is the opening fence, ``end`` is past the closing one."""

    start: int
    end: int
    lang: str


def _code_blocks(text: str) -> list[_Block]:
    """The fenced blocks of ``text`` (an unclosed block runs to the end)."""
    blocks: list[_Block] = []
    pos = 0
    while True:
        start = text.find(FENCE, pos)
        if start < 0:
            return blocks
        match = _LANG.match(text, start)
        lang = match.group(1) if match else ""
        body = start + (len(match.group(0)) if match else len(FENCE))
        close = text.find(FENCE, body)
        end = len(text) if close < 0 else close + len(FENCE)
        blocks.append(_Block(start, end, lang))
        if close < 0:
            return blocks
        pos = end


def _inside(blocks: list[_Block], index: int) -> _Block | None:
    """The block that strictly contains position ``index`` (a cut there would break it)."""
    for block in blocks:
        if block.start < index < block.end:
            return block
    return None


def _last_outside(window: str, sep: str, blocks: list[_Block]) -> int:
    """The last index of ``sep`` in ``window`` that is outside every code block, or -1."""
    index = window.rfind(sep)
    while index > 0:
        block = _inside(blocks, index) or _inside(blocks, index + len(sep) - 1)
        if block is None:
            return index
        index = window.rfind(sep, 0, min(index, block.start + len(sep)))  # skip the block
    return -1


def split_message(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """Split ``text`` into ordered parts of at most ``limit`` characters.

    Args:
        text: the reply (Discord Markdown).
        limit: the most characters per part (Discord: 2,000). At least 32.

    Returns:
        The parts, in order; ``[]`` for blank text, ``[text]`` when it fits.

    Example:
        >>> split_message("a" * 1500 + "\\n\\n" + "b" * 1500)
        ['aaa...', 'bbb...']
    """
    if limit < 32:
        raise ValueError("limit must be at least 32 characters")
    parts: list[str] = []
    text = text.strip("\n")
    pos = 0
    reopen = ""
    while pos < len(text):
        if len(reopen) + len(text) - pos <= limit:
            last = (reopen + text[pos:]).rstrip()
            if last.strip():
                parts.append(last)
            break
        # Two limits of text are enough to see every block a cut could touch.
        candidate = reopen + text[pos : pos + 2 * limit]
        chunk, offset, fence = _cut(candidate, limit)
        if chunk.strip():
            parts.append(chunk)
        pos += max(1, offset - len(reopen))
        reopen = fence
        if not reopen:
            while pos < len(text) and text[pos] == "\n":
                pos += 1
    return parts


def _cut(candidate: str, limit: int) -> tuple[str, int, str]:
    """One part off the front: ``(part, where the rest starts, fence to reopen it with)``."""
    blocks = _code_blocks(candidate)
    window = candidate[:limit]
    open_block = _inside(blocks, limit)
    big = open_block is not None and open_block.end - open_block.start > limit - len(_CLOSE)
    # 1. Outside code: paragraph, then line, then word, if the part is not tiny; a paragraph
    #    or line break before a block that will fit whole in the next part is good too.
    found: list[tuple[int, str]] = []
    for sep in ("\n\n", "\n", " "):
        index = _last_outside(window, sep, blocks)
        if index > 0:
            found.append((index, sep))
            if index >= limit // 2 or (open_block is not None and not big and sep != " "):
                return candidate[:index].rstrip(), index + len(sep), ""
    if open_block is not None and not big and open_block.start > 0:
        return candidate[: open_block.start].rstrip(), open_block.start, ""
    # 2. Inside a block too long for any part: cut at its last line that fits, close the
    #    fence there and reopen it (with its language) in the next part.
    if open_block is not None:
        room = limit - len(_CLOSE)
        fence = FENCE + open_block.lang + "\n"
        body_start = candidate.find("\n", open_block.start)
        index = candidate.rfind("\n", 0, room)
        if 0 <= body_start < index:
            return candidate[:index] + _CLOSE, index + 1, fence
        if found:
            index, sep = max(found)
            return candidate[:index].rstrip(), index + len(sep), ""
        if open_block.start > 0:
            return candidate[: open_block.start].rstrip(), open_block.start, ""
        return candidate[:room] + _CLOSE, room, fence
    # 3. The best boundary there is, even if the part is short; else a hard cut.
    if found:
        index, sep = max(found)
        return candidate[:index].rstrip(), index + len(sep), ""
    return candidate[:limit], limit, ""


__all__ = ["DISCORD_LIMIT", "split_message"]
