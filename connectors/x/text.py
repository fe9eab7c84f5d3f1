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

import bisect
import itertools
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
_KEYCAP_BASES = "0123456789#*"
_GAP = re.compile(r"\s+")
_CJK_BREAK = re.compile(r"[。！？](?=\S)")
_KEYCAP_NEXT = ("\ufe0f", "\u20e3")


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


def _url_spans(text: str) -> list[tuple[int, int, int]]:
    """(start, end, weight) of every URL, scheme URLs first; bare domains never overlap them."""
    spans: list[tuple[int, int, int]] = []
    scheme_starts: list[int] = []
    for match in _SCHEME_URL.finditer(text):
        end = match.end()
        while end > match.start() and text[end - 1] in _TRAILING_PUNCT:
            end -= 1
        spans.append((match.start(), end, URL_WEIGHT))
        scheme_starts.append(match.start())
    scheme_count = len(spans)
    for match in _BARE_DOMAIN.finditer(text):
        start, end = match.start(), match.end()
        while end > start and text[end - 1] in _TRAILING_PUNCT:
            end -= 1
        k = bisect.bisect_left(scheme_starts, end) - 1  # the last scheme URL starting before
        if k >= 0 and spans[k][1] > start:
            continue
        own = sum(_char_weight(ord(c)) for c in text[start:end])
        spans.append((start, end, max(URL_WEIGHT, own)))
    if len(spans) > scheme_count:
        spans.sort()
    return spans


Units = tuple[list[int], list[int]]
"""``(starts, weights)``: unit ``k`` is ``text[starts[k]:starts[k + 1]]`` (the last one ends
at ``len(text)``) and weighs ``weights[k]``."""


def units(text: str) -> Units:
    """Cut (already NFC-normalised) ``text`` into indivisible weighted units, in order.

    A unit is a URL, an emoji sequence, or a character with its combining marks.
    """
    starts: list[int] = []
    weights: list[int] = []
    spans = _url_spans(text)
    span_index = 0
    next_span = spans[0][0] if spans else -1
    i, n = 0, len(text)
    while i < n:
        if i == next_span:
            _, end, weight = spans[span_index]
            starts.append(i)
            weights.append(weight)
            i = end
            span_index += 1
            next_span = spans[span_index][0] if span_index < len(spans) else -1
            continue
        ch = text[i]
        j = i + 1
        if ch < "\u00a9" and not (ch in _KEYCAP_BASES and text[j : j + 1] in _KEYCAP_NEXT):
            starts.append(i)  # the common case: ASCII and most of Latin-1, weight 1
            weights.append(1)
            i = j
            continue
        cp = ord(ch)
        if _is_regional_indicator(cp) and j < n and _is_regional_indicator(ord(text[j])):
            j += 1
            weight = 2
        elif _is_emoji_base(cp) or ch in _KEYCAP_BASES:
            while j < n:
                nxt = ord(text[j])
                if _is_emoji_modifier(nxt):
                    j += 1
                elif nxt == 0x200D and j + 1 < n and _is_emoji_base(ord(text[j + 1])):
                    j += 2
                else:
                    break
            weight = 2
        else:
            weight = _char_weight(cp)
            while j < n and j != next_span and unicodedata.combining(text[j]):
                weight += _char_weight(ord(text[j]))
                j += 1
        starts.append(i)
        weights.append(weight)
        i = j
    return starts, weights


def weighted_length(text: str) -> int:
    """The weight X counts for ``text`` (NFC-normalised first), as twitter-text v3 does.

    Example:
        >>> weighted_length("日本語"), weighted_length("👍🏽"), weighted_length("https://x.com/a/b")
        (6, 2, 23)
    """
    return sum(units(unicodedata.normalize("NFC", text))[1])


def fits(text: str, limit: int = MAX_TWEET_WEIGHT) -> bool:
    """True when ``text`` is a valid tweet length: not blank and within ``limit``."""
    return bool(text.strip()) and weighted_length(text) <= limit


@dataclass(frozen=True, slots=True)
class _Layout:
    """What packing needs, computed once per text: units, their prefix sums, break points."""

    starts: list[int]
    acc: list[int]
    """``acc[k]`` is the weight of units ``0..k-1``."""
    break_units: list[int]
    """Unit indices a part may start with (a cut right before them), ascending."""
    break_ranks: list[int]
    """4 paragraph break, 3 line break, 2 sentence end, 1 word boundary."""


def _layout(text: str) -> _Layout:
    starts, weights = units(text)
    found: list[tuple[int, int]] = []
    for match in _GAP.finditer(text):
        pos, gap = match.start(), match.group()
        if pos == 0:
            continue
        if gap.count("\n") >= 2:
            rank = 4
        elif "\n" in gap:
            rank = 3
        else:
            q = pos - 1
            while q > 0 and text[q] in _CLOSERS:
                q -= 1
            rank = 2 if text[q] in _SENTENCE_END else 1
        found.append((pos, rank))
    for match in _CJK_BREAK.finditer(text):
        found.append((match.end(), 2))
    found.sort()
    break_units: list[int] = []
    break_ranks: list[int] = []
    for pos, rank in found:
        k = bisect.bisect_left(starts, pos)
        if k < len(starts) and starts[k] == pos:
            break_units.append(k)
            break_ranks.append(rank)
    acc = list(itertools.accumulate(weights, initial=0))
    return _Layout(starts, acc, break_units, break_ranks)


def _pack(text: str, layout: _Layout, limit: int) -> list[str]:
    """Greedy split into parts of weight <= ``limit``, cut at the best boundary in reach.

    The best boundary is the last paragraph break, else line break, else sentence end that
    leaves the part at least half full; else the last word boundary; else a hard cut.
    """
    starts, acc = layout.starts, layout.acc
    count = len(starts)
    parts: list[str] = []
    i = 0
    while i < count:
        while i < count and text[starts[i]].isspace():
            i += 1
        if i >= count:
            break
        j = bisect.bisect_right(acc, acc[i] + limit) - 1  # units i..j-1 fit
        if j >= count:
            parts.append(text[starts[i] :].strip())
            break
        j = max(j, i + 1)  # a single unit heavier than the limit (only with absurd limits)
        k = _best_cut(layout, i, j, limit)
        part = text[starts[i] : starts[k]].strip()
        if part:
            parts.append(part)
        i = k
    return parts


def _best_cut(layout: _Layout, i: int, j: int, limit: int) -> int:
    """Index of the unit to start the next part with, between ``i + 1`` and ``j``."""
    acc, units_, ranks = layout.acc, layout.break_units, layout.break_ranks
    lo = bisect.bisect_right(units_, i)
    hi = bisect.bisect_right(units_, j)
    best: dict[int, int] = {}
    for b in range(hi - 1, lo - 1, -1):
        k = units_[b]
        if (acc[k] - acc[i]) * 2 >= limit:
            best.setdefault(ranks[b], k)
            if 4 in best:
                break
        else:  # under half full: any boundary is only as good as a word boundary
            best.setdefault(1, k)
            break
    for rank in (4, 3, 2, 1):
        if rank in best:
            return best[rank]
    return j


ELLIPSIS = "\u2026"
"""Ends the last part of a thread cut short by ``max_parts``."""


def split_thread(
    text: str,
    *,
    limit: int = MAX_TWEET_WEIGHT,
    numbered: bool = True,
    max_parts: int | None = None,
) -> list[str]:
    """Split ``text`` into tweets of weight <= ``limit``, in order.

    Cuts at paragraph, line, sentence or word boundaries (in that order of preference, when
    the part stays at least half full), never inside a URL or an emoji sequence. With
    ``numbered``, parts of a multi-part thread end with `` i/n``. With ``max_parts``, a
    longer thread keeps its first ``max_parts`` parts, the last one ending with "…".

    Example:
        >>> split_thread("short"), len(split_thread("a " * 500))
        (['short'], 4)
    """
    text = unicodedata.normalize("NFC", text).strip()
    if not text:
        return []
    layout = _layout(text)
    if layout.acc[-1] <= limit:
        return [text]
    digits = 1
    while True:
        biggest = 10**digits - 1
        reserve = len(f" {biggest}/{biggest}") if numbered else 0
        parts = _pack(text, layout, limit - reserve)
        if max_parts is not None and len(parts) > max_parts:
            parts = parts[: max(1, max_parts)]
            parts[-1] = _with_ellipsis(parts[-1], limit - reserve)
        if not numbered:
            return parts
        if len(parts) <= biggest:
            total = len(parts)
            return [f"{part} {n}/{total}" for n, part in enumerate(parts, start=1)]
        digits += 1


def _with_ellipsis(part: str, limit: int) -> str:
    """``part`` ending with "…", words dropped from its end until it fits ``limit``."""
    candidate = part + ELLIPSIS
    while weighted_length(candidate) > limit:
        head, sep, _ = part.rpartition(" ")
        part = head if sep else part[:-1]
        candidate = part.rstrip() + " " + ELLIPSIS if sep else part + ELLIPSIS
    return candidate


__all__ = [
    "ELLIPSIS",
    "MAX_TWEET_WEIGHT",
    "URL_WEIGHT",
    "Units",
    "fits",
    "split_thread",
    "units",
    "weighted_length",
]
