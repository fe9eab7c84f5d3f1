"""X's text rules as pure functions: weighted length (twitter-text v3) and thread splitting.

X does not count characters: it counts *weight* (twitter-text's v3 configuration). Text is
NFC-normalised, then each code point weighs 1 if it lies in one of a few ranges (Latin, Greek,
Cyrillic, Hebrew, Arabic, Indic scripts... up to U+10FF, and some punctuation) and 2 otherwise
(CJK, most symbols); an emoji sequence (ZWJ families, skin tones, flags, keycaps) weighs 2 as a
whole; a URL weighs 23 whatever its length. A tweet may weigh 280.

Where twitter-text needs data we do not carry (its emoji table and its list of top-level
domains), this module errs on the heavy side: a word that looks like a bare domain counts as
``max(23, its own weight)`` and ``©``/``®`` count 2, so a part it accepts is never too long for
X. Example::

    >>> weighted_length("hello https://example.com/a/very/long/path")
    29
    >>> [weighted_length(p) <= 280 for p in split_thread("word " * 200)]
    [True, True, True, True]
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_TWEET_WEIGHT = 280
"""X's limit, in weighted characters (``maxWeightedTweetLength``)."""
URL_WEIGHT = 23
"""What any URL counts (``transformedURLLength``)."""

_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
"""twitter-text v3 ``ranges`` of weight 1 (inclusive); every other code point weighs 2."""

_SCHEME_URL = re.compile(r"(?i)\bhttps?://[^\s<>\"]+")
_BARE_DOMAIN = re.compile(
    r"(?i)(?<![\w@/.\-])(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+[a-z]{2,}(?![\w\-])(?:/[^\s<>\"]*)?"
)
_TRAILING_PUNCT = ".,;:!?)]}'\"”’…"
_SENTENCE_END = ".!?…。！？"
_CLOSERS = ")]}'\"”’»"
_CJK_SENTENCE_END = "。！？"


def _char_weight(cp: int) -> int:
    for start, end in _LIGHT_RANGES:
        if start <= cp <= end:
            return 1
    return 2


def _is_emoji_base(cp: int) -> bool:
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or 0x2300 <= cp <= 0x23FF
        or 0x2B00 <= cp <= 0x2BFF
        or 0x2190 <= cp <= 0x21FF
        or cp in (0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x3030, 0x303D, 0x3297, 0x3299)
    )


def _is_emoji_modifier(cp: int) -> bool:
    """Code points that extend an emoji sequence: variation selectors, skin tones, tags, keycap."""
    return cp in (0xFE0E, 0xFE0F, 0x20E3) or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F


def _is_regional_indicator(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


@dataclass(frozen=True, slots=True)
class Unit:
    """An indivisible piece of text (a URL, an emoji sequence, a character) and its weight."""

    start: int
    end: int
    weight: int


def _url_spans(text: str) -> list[tuple[int, int, int]]:
    """(start, end, weight) of every URL, scheme URLs first; bare domains never overlap them."""
    spans: list[tuple[int, int, int]] = []
    for match in _SCHEME_URL.finditer(text):
        end = match.end()
        while end > match.start() and text[end - 1] in _TRAILING_PUNCT:
            end -= 1
        spans.append((match.start(), end, URL_WEIGHT))
    for match in _BARE_DOMAIN.finditer(text):
        start, end = match.start(), match.end()
        while end > start and text[end - 1] in _TRAILING_PUNCT:
            end -= 1
        if any(s < end and start < e for s, e, _ in spans):
            continue
        own = sum(_char_weight(ord(c)) for c in text[start:end])
        spans.append((start, end, max(URL_WEIGHT, own)))
    spans.sort()
    return spans


def units(text: str) -> list[Unit]:
    """Cut (already NFC-normalised) ``text`` into indivisible weighted units, in order."""
    out: list[Unit] = []
    spans = _url_spans(text)
    span_at = {start: (end, weight) for start, end, weight in spans}
    i, n = 0, len(text)
    while i < n:
        if i in span_at:
            end, weight = span_at[i]
            out.append(Unit(i, end, weight))
            i = end
            continue
        cp = ord(text[i])
        j = i + 1
        if _is_regional_indicator(cp) and j < n and _is_regional_indicator(ord(text[j])):
            out.append(Unit(i, j + 1, 2))
            i = j + 1
            continue
        keycap = text[i] in "0123456789#*" and (
            text[j : j + 1] == "\u20e3" or text[j : j + 2] == "\ufe0f\u20e3"
        )
        if _is_emoji_base(cp) or keycap:
            while j < n:
                nxt = ord(text[j])
                if _is_emoji_modifier(nxt):
                    j += 1
                elif nxt == 0x200D and j + 1 < n and _is_emoji_base(ord(text[j + 1])):
                    j += 2
                else:
                    break
            out.append(Unit(i, j, 2))
            i = j
            continue
        weight = _char_weight(cp)
        while j < n and j not in span_at and unicodedata.combining(text[j]):
            weight += _char_weight(ord(text[j]))
            j += 1
        out.append(Unit(i, j, weight))
        i = j
    return out


def weighted_length(text: str) -> int:
    """The weight X counts for ``text`` (NFC-normalised first), as twitter-text v3 does.

    Example:
        >>> weighted_length("日本語"), weighted_length("👍🏽"), weighted_length("https://x.com/a/b")
        (6, 2, 23)
    """
    return sum(u.weight for u in units(unicodedata.normalize("NFC", text)))


def fits(text: str, limit: int = MAX_TWEET_WEIGHT) -> bool:
    """True when ``text`` is a valid tweet length: not blank and within ``limit``."""
    return bool(text.strip()) and weighted_length(text) <= limit


def _break_rank(text: str, pos: int) -> int:
    """How good a place cutting before ``text[pos]`` is: 0 none ... 4 paragraph."""
    if pos <= 0 or pos >= len(text):
        return 0
    before = text[pos - 1]
    if not text[pos].isspace():
        return 2 if before in _CJK_SENTENCE_END else 0
    if before.isspace():
        return 0  # only the first whitespace of a run
    end = pos
    while end < len(text) and text[end].isspace():
        end += 1
    gap = text[pos:end]
    if gap.count("\n") >= 2:
        return 4
    if "\n" in gap:
        return 3
    head = text[:pos].rstrip(_CLOSERS)
    if head and head[-1] in _SENTENCE_END:
        return 2
    return 1


def _pack(text: str, limit: int) -> list[str]:
    """Greedy split into parts of weight <= ``limit``, cut at the best boundary in reach."""
    pieces = units(text)
    parts: list[str] = []
    i = 0
    while i < len(pieces):
        while i < len(pieces) and text[pieces[i].start].isspace():
            i += 1
        if i >= len(pieces):
            break
        total, j = 0, i
        while j < len(pieces) and total + pieces[j].weight <= limit:
            total += pieces[j].weight
            j += 1
        if j >= len(pieces):
            parts.append(text[pieces[i].start :].strip())
            break
        if j == i:  # a single unit heavier than the limit (only with absurd limits)
            j = i + 1
        cut = _best_cut(text, pieces, i, j, limit)
        part = text[pieces[i].start : pieces[cut].start].strip()
        if part:
            parts.append(part)
        i = cut
    return parts


def _best_cut(text: str, pieces: list[Unit], i: int, j: int, limit: int) -> int:
    """Index of the unit to start the next part with, between ``i + 1`` and ``j``."""
    best: dict[int, int] = {}
    filled = sum(p.weight for p in pieces[i:j])
    for k in range(j, i, -1):
        rank = _break_rank(text, pieces[k].start)
        if rank and rank not in best:
            if rank == 1 or filled * 2 >= limit:
                best[rank] = k
        if len(best) == 4:
            break
        filled -= pieces[k - 1].weight
    for rank in (4, 3, 2, 1):
        if rank in best:
            return best[rank]
    return j


def split_thread(text: str, *, limit: int = MAX_TWEET_WEIGHT, numbered: bool = True) -> list[str]:
    """Split ``text`` into tweets of weight <= ``limit``, in order.

    Cuts at paragraph, line, sentence or word boundaries (in that order of preference, when
    the part stays at least half full), never inside a URL or an emoji sequence. With
    ``numbered``, parts of a multi-part thread end with `` i/n``.

    Example:
        >>> split_thread("short"), len(split_thread("a " * 500))
        (['short'], 4)
    """
    text = unicodedata.normalize("NFC", text).strip()
    if not text:
        return []
    if weighted_length(text) <= limit:
        return [text]
    if not numbered:
        return _pack(text, limit)
    digits = 1
    while True:
        biggest = 10**digits - 1
        reserve = len(f" {biggest}/{biggest}")
        parts = _pack(text, limit - reserve)
        if len(parts) <= biggest:
            total = len(parts)
            return [f"{part} {n}/{total}" for n, part in enumerate(parts, start=1)]
        digits += 1


__all__ = [
    "MAX_TWEET_WEIGHT",
    "URL_WEIGHT",
    "Unit",
    "fits",
    "split_thread",
    "units",
    "weighted_length",
]
