"""Split a Markdown reply into parts that each fit a chat message, code blocks kept whole.

A pure function. The text is read as paragraphs (separated by blank lines) and fenced code
blocks; parts are packed from them in order. A paragraph too big for a part is cut at line
breaks, then at spaces, and only then anywhere; a code block too big for a part is cut at
line breaks and every piece is fenced again with the block's language, so each part is
valid Markdown on its own. Sizes are measured by the platform's ``size`` (Telegram counts
UTF-16 code units after formatting; Slack counts characters of the escaped text), so every
part fits after rendering.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

FENCE = "```"
_FENCE_LINE = re.compile(r"^\s*```([\w+#.-]*)\s*$")

Size = Callable[[str], int]


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of source text and how it joins the piece before it in the same part."""

    text: str
    sep: str = "\n\n"


def utf16_size(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts (an emoji is 2).

    >>> utf16_size("hi 👋")
    5
    """
    return len(text.encode("utf-16-le")) // 2


def fenced_sections(text: str) -> list[tuple[str | None, str]]:
    """The text as ``(None, prose)`` and ``(lang, code)`` for fenced blocks, in order.

    An unclosed block runs to the end. Blocks with nothing in them are left out.

    >>> fenced_sections("intro\n```py\nx = 1\n```\nend")
    [(None, 'intro'), ('py', 'x = 1'), (None, 'end')]
    """
    sections: list[tuple[str | None, str]] = []
    prose: list[str] = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        match = _FENCE_LINE.match(lines[index])
        if match is None:
            prose.append(lines[index])
            index += 1
            continue
        if prose:
            sections.append((None, "\n".join(prose)))
            prose = []
        body: list[str] = []
        index += 1
        while index < len(lines) and not _FENCE_LINE.match(lines[index]):
            body.append(lines[index])
            index += 1
        index += 1  # the closing fence
        if any(line.strip() for line in body):
            sections.append((match.group(1), "\n".join(body)))
    if prose:
        sections.append((None, "\n".join(prose)))
    return sections


def _segments(text: str) -> list[tuple[str | None, str]]:
    """Code blocks, and the prose between them cut into paragraphs."""
    segments: list[tuple[str | None, str]] = []
    for lang, body in fenced_sections(text):
        if lang is not None:
            segments.append((lang, body))
            continue
        for paragraph in re.split(r"\n\s*\n", body):
            if paragraph.strip():
                segments.append((None, paragraph.strip("\n")))
    return segments


def _fenced(lang: str, body: str) -> str:
    return f"{FENCE}{lang}\n{body}\n{FENCE}"


def _hard_cut(text: str, limit: int, size: Size) -> list[str]:
    """Cut ``text`` anywhere into pieces of at most ``limit``."""
    pieces: list[str] = []
    while text:
        end = min(len(text), limit)
        while end > 1 and size(text[:end]) > limit:
            end = max(1, end - max(1, size(text[:end]) - limit))
        pieces.append(text[:end])
        text = text[end:]
    return pieces


def _prose_pieces(paragraph: str, limit: int, size: Size) -> list[Part]:
    if size(paragraph) <= limit:
        return [Part(paragraph)]
    parts: list[Part] = []
    for line_no, line in enumerate(paragraph.split("\n")):
        sep = "\n\n" if line_no == 0 else "\n"
        if size(line) <= limit:
            parts.append(Part(line, sep))
            continue
        for word_no, word in enumerate(line.split(" ")):
            word_sep = sep if word_no == 0 else " "
            for cut_no, cut in enumerate(_hard_cut(word, limit, size) if word else [""]):
                parts.append(Part(cut, word_sep if cut_no == 0 else ""))
    return parts


def _code_pieces(lang: str, body: str, limit: int, size: Size) -> list[Part]:
    whole = _fenced(lang, body)
    if size(whole) <= limit:
        return [Part(whole)]
    room = limit - size(_fenced(lang, ""))
    if room < 1:
        raise ValueError(f"limit {limit} cannot hold a fenced code block")
    pieces: list[str] = []
    current: list[str] = []
    for line in body.split("\n"):
        for cut in _hard_cut(line, room, size) if line else [""]:
            if current and size("\n".join([*current, cut])) > room:
                pieces.append("\n".join(current))
                current = []
            current.append(cut)
    if current:
        pieces.append("\n".join(current))
    return [Part(_fenced(lang, piece)) for piece in pieces]


def split_blocks(text: str, limit: int, *, size: Size = len) -> list[str]:
    """Split Markdown ``text`` into parts of at most ``limit`` (measured by ``size``).

    Args:
        text: the reply, Markdown with ```` ``` ```` fenced code blocks.
        limit: the most a part may measure (at least 32).
        size: how the platform measures a part (default: characters).

    Returns:
        The parts in order; ``[]`` for blank text. Each has balanced code fences.

    Example:
        >>> split_blocks("one\\n\\ntwo", 5)
        ['one', 'two']
        >>> split_blocks("```py\\na = 1\\nb = 2\\n```", 32)
        ['```py\\na = 1\\nb = 2\\n```']
    """
    if limit < 32:
        raise ValueError("limit must be at least 32")
    pieces: list[Part] = []
    for lang, body in _segments(text.strip("\n")):
        if lang is None:
            pieces += _prose_pieces(body, limit, size)
        else:
            pieces += _code_pieces(lang, body, limit, size)
    parts: list[str] = []
    current = ""
    for piece in pieces:
        candidate = current + piece.sep + piece.text if current else piece.text
        if current and size(candidate) > limit:
            parts.append(current)
            candidate = piece.text
        current = candidate
    if current.strip():
        parts.append(current)
    return [part for part in parts if part.strip()]


__all__ = ["FENCE", "Part", "Size", "fenced_sections", "split_blocks", "utf16_size"]
