"""X's weighted length (twitter-text v3) and thread splitting, as pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.x.text import ELLIPSIS, MAX_TWEET_WEIGHT, fits, split_thread, weighted_length


@pytest.mark.parametrize(
    ("text", "weight"),
    [
        ("This is a test.", 15),
        ("", 0),
        ("héllo wörld", 11),  # Latin with accents: weight 1
        ("Привет", 6),  # Cyrillic: weight 1
        ("日本語", 6),  # CJK: weight 2
        ("저찀쯿쿿", 8),  # Hangul: weight 2
        ("の" * 140, 280),
        ("\u2014", 1),  # em dash (8212) is in a light range
        ("\u2019", 1),  # right single quote (8217)
        ("\u2026", 2),  # ellipsis (8230) is between the light ranges
        ("\u20ac", 2),  # euro sign (8364) is not
        ("🐱", 2),
        ("🐱" * 140, 280),
        ("👍🏽", 2),  # skin tone modifier joins the emoji
        ("👨‍👩‍👧‍👦", 2),  # ZWJ family: one emoji
        ("🇫🇷", 2),  # flag: two regional indicators
        ("1️⃣", 2),  # keycap sequence
        ("❤️", 2),  # with variation selector
        ("H🐱☺", 5),
        ("http://test.com", 23),
        ("https://test.com", 23),
        ("https://example.com/" + "a" * 200, 23),
        ("test.com", 23),
        ("Test https://test.com test https://test.com test.com test", 86),
        ("see https://example.com/x.", 28),  # the trailing period is not part of the URL
        ("e\u0301", 1),  # NFC-normalised to é
    ],
)
def test_weighted_length(text: str, weight: int) -> None:
    assert weighted_length(text) == weight


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("a" * 280, True),
        ("a" * 281, False),
        ("日" * 140, True),
        ("日" * 141, False),
        ("x" * 256 + " https://example.com/" + "p" * 300, True),  # 256 + 1 + 23
        ("x" * 257 + " https://example.com/" + "p" * 300, False),
        ("   ", False),
    ],
)
def test_fits(text: str, ok: bool) -> None:
    assert fits(text) is ok


def test_short_text_is_one_unnumbered_part() -> None:
    assert split_thread("  hello world  ") == ["hello world"]
    assert split_thread("   ") == []


def test_long_text_becomes_numbered_parts_within_the_limit_in_order() -> None:
    sentences = [f"Sentence {i} says something useful." for i in range(60)]
    text = " ".join(sentences)
    parts = split_thread(text)
    assert len(parts) > 1
    assert all(weighted_length(p) <= MAX_TWEET_WEIGHT for p in parts)
    assert [p.rsplit(" ", 1)[1] for p in parts] == [
        f"{i}/{len(parts)}" for i in range(1, len(parts) + 1)
    ]
    rebuilt = " ".join(p.rsplit(" ", 1)[0] for p in parts)
    assert rebuilt == text
    # cut at sentence ends, not mid-sentence
    assert all(p.rsplit(" ", 1)[0].endswith(".") for p in parts)


def test_prefers_paragraph_breaks() -> None:
    para = "word " * 40  # 200 weight
    text = (para.strip() + "\n\n") * 3
    parts = split_thread(text, numbered=False)
    assert parts == [para.strip()] * 3


def test_never_splits_urls_or_emoji() -> None:
    url = "https://example.com/" + "a" * 50
    text = " ".join([url, "👨‍👩‍👧‍👦"] * 40)
    parts = split_thread(text, numbered=False)
    assert len(parts) > 1
    for part in parts:
        assert weighted_length(part) <= MAX_TWEET_WEIGHT
        for token in part.split(" "):
            assert token in (url, "👨‍👩‍👧‍👦")


def test_cjk_splits_by_weight_and_at_sentence_ends() -> None:
    text = "これは日本語の文です。" * 40  # 11 chars, weight 22 each
    parts = split_thread(text)
    assert all(weighted_length(p) <= MAX_TWEET_WEIGHT for p in parts)
    assert all(p.rsplit(" ", 1)[0].endswith("。") for p in parts)
    assert "".join(p.rsplit(" ", 1)[0] for p in parts) == text


def test_a_word_longer_than_a_tweet_is_cut_hard() -> None:
    parts = split_thread("x" * 700, numbered=False)
    assert [len(p) for p in parts] == [280, 280, 140]


def test_numbering_reserves_room_for_two_digit_counts() -> None:
    parts = split_thread("word " * 700)
    assert len(parts) >= 10
    assert all(weighted_length(p) <= MAX_TWEET_WEIGHT for p in parts)
    assert parts[-1].endswith(f" {len(parts)}/{len(parts)}")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(["word", "日本", "🐱", "https://example.com/path", "x.io", "\n\n", "."]),
        max_size=300,
    ).map(" ".join)
)
def test_every_part_fits_and_nothing_is_lost(text: str) -> None:
    parts = split_thread(text, numbered=False)
    assert all(0 < weighted_length(p) <= MAX_TWEET_WEIGHT for p in parts)
    assert "".join("".join(p.split()) for p in parts) == "".join(text.split())


@pytest.mark.parametrize("numbered", [True, False])
def test_max_parts_cuts_a_thread_short_with_an_ellipsis(numbered: bool) -> None:
    parts = split_thread("word " * 1000, max_parts=3, numbered=numbered)
    assert len(parts) == 3
    assert all(weighted_length(p) <= MAX_TWEET_WEIGHT for p in parts)
    last = parts[-1].rsplit(" ", 1)[0] if numbered else parts[-1]
    assert last.endswith(ELLIPSIS)
    if numbered:
        assert parts[-1].endswith(" 3/3")
    assert split_thread("word " * 10, max_parts=3) == [("word " * 10).strip()]
