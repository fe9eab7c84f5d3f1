"""Splitting replies at Discord's 2,000-character limit: a pure function."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.discord.split import DISCORD_LIMIT, split_message

FENCE_OPEN = re.compile(r"```[\w+#.-]*\n")


def _fences_balanced(part: str) -> bool:
    return part.count("```") % 2 == 0


def _words(text: str) -> list[str]:
    """The text's content, ignoring whitespace and fences added to close/reopen blocks."""
    return FENCE_OPEN.sub(" ", text).replace("```", " ").split()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("   \n\n ", []),
        ("hello", ["hello"]),
        ("a" * 2000, ["a" * 2000]),
        ("\n\nhello\n\n", ["hello"]),
    ],
)
def test_short_text_is_one_part(text: str, expected: list[str]) -> None:
    assert split_message(text) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        # Paragraph break preferred over a later line break.
        (
            "a" * 30 + "\n\n" + "b" * 10 + "\n" + "c" * 20,
            50,
            ["a" * 30, "b" * 10 + "\n" + "c" * 20],
        ),
        # Line break when there is no paragraph break in the window.
        ("a" * 30 + "\n" + "b" * 30, 50, ["a" * 30, "b" * 30]),
        # Word boundary when there is no line break.
        ("alpha " * 10, 40, ["alpha alpha alpha alpha alpha alpha", "alpha alpha alpha alpha"]),
        # Nothing to cut at: hard cut.
        ("x" * 100, 40, ["x" * 40, "x" * 40, "x" * 20]),
        # A short paragraph is not cut off alone when a line break lies further on.
        ("aa\n\n" + "b" * 30 + "\n" + "c" * 30, 50, ["aa\n\n" + "b" * 30, "c" * 30]),
    ],
)
def test_boundaries_in_order_of_preference(text: str, limit: int, expected: list[str]) -> None:
    assert split_message(text, limit) == expected


def test_code_block_that_fits_moves_whole_to_the_next_part() -> None:
    code = "```python\nprint('hi')\nprint('there')\n```"
    text = "intro " * 5 + "\n" + code + "\nafter"
    parts = split_message(text, 60)
    assert code in parts[1]
    assert all(_fences_balanced(p) and len(p) <= 60 for p in parts)


def test_long_code_block_is_closed_and_reopened_with_its_language() -> None:
    lines = "\n".join(f"value_{i} = {i}" for i in range(400))
    text = f"Here is the code:\n\n```python\n{lines}\n```\n\nThat's all."
    parts = split_message(text)
    assert len(parts) >= 3
    for part in parts:
        assert len(part) <= DISCORD_LIMIT
        assert _fences_balanced(part)
    for part in parts[1:-1]:
        assert part.startswith("```python\n")
    assert parts[0].endswith("\n```")
    assert _words(text) == _words("\n".join(parts))


def test_a_code_line_longer_than_the_limit_is_cut_inside_the_block() -> None:
    text = "```\n" + "z" * 5000 + "\n```"
    parts = split_message(text)
    assert all(len(p) <= DISCORD_LIMIT and _fences_balanced(p) for p in parts)
    assert "".join(p.replace("```", "").replace("\n", "") for p in parts) == "z" * 5000


def test_unclosed_block_is_still_reopened() -> None:
    text = "```js\n" + "\n".join("x();" for _ in range(1000))
    parts = split_message(text)
    assert all(p.startswith("```js\n") for p in parts)
    assert all(len(p) <= DISCORD_LIMIT for p in parts)


def test_limit_must_leave_room_for_fences() -> None:
    with pytest.raises(ValueError):
        split_message("text", 10)


_piece = st.one_of(
    st.text(alphabet="abcdefgh ", min_size=1, max_size=60).map(lambda s: s.strip() or "w"),
    st.lists(st.text(alphabet="xyz_=() ", min_size=0, max_size=70), min_size=1, max_size=40).map(
        lambda lines: "```py\n" + "\n".join(lines) + "\n```"
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    pieces=st.lists(_piece, min_size=1, max_size=60),
    seps=st.sampled_from(["\n", "\n\n", " "]),
    limit=st.sampled_from([64, 200, 2000]),
)
def test_parts_fit_keep_order_and_keep_blocks_valid(
    pieces: list[str], seps: str, limit: int
) -> None:
    text = seps.join(pieces)
    parts = split_message(text, limit)
    assert all(0 < len(p) <= limit for p in parts)
    assert all(_fences_balanced(p) for p in parts)
    if all(len(w) < limit // 2 for w in text.split()):
        assert _words("\n".join(parts)) == _words(text)
