"""Telegram formatting: every part fits, parses as Telegram HTML, and keeps the text in order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_runner.testing.telegram.markup import visible_text
from agent_runner.testing.telegram.objects import utf16_len
from connectors._chat import split_blocks, utf16_size
from connectors.telegram import TELEGRAM_LIMIT, render_html, split_reply
from connectors.telegram.format import preview


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("plain", "plain"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("**bold** and `x<y`", "<b>bold</b> and <code>x&lt;y</code>"),
        ("**not closed", "**not closed"),
        (
            "[site](https://example.com/?a=1&b=2)",
            '<a href="https://example.com/?a=1&amp;b=2">site</a>',
        ),
        ("[js](javascript:alert(1))", "[js](javascript:alert(1))"),
        ("```\n<raw>\n```", "<pre>&lt;raw&gt;</pre>"),
        ("```py\nx = 1\n```", '<pre><code class="language-py">x = 1</code></pre>'),
    ],
)
def test_render_html(markdown: str, html: str) -> None:
    assert render_html(markdown) == html
    visible_text(html)  # Telegram would accept it


def test_a_block_longer_than_a_message_is_cut_at_lines_and_fenced_again() -> None:
    code = "\n".join(f"line {i}" for i in range(2000))
    parts = split_blocks(f"```text\n{code}\n```", TELEGRAM_LIMIT, size=utf16_size)
    assert len(parts) > 2
    assert all(p.startswith("```text\n") and p.endswith("\n```") for p in parts)
    assert "\n".join(p[len("```text\n") : -len("\n```")] for p in parts) == code


def test_emoji_count_double() -> None:
    parts = split_reply("👋" * 3000)
    assert len(parts) == 2
    assert all(utf16_len(visible_text(p)) <= TELEGRAM_LIMIT for p in parts)


def test_preview_shows_the_start_and_says_there_is_more() -> None:
    assert preview("short") == "short"
    long = preview("word " * 2000)
    assert long.endswith("\n…") and utf16_len(visible_text(long)) <= TELEGRAM_LIMIT


_markdown = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300),
        st.sampled_from(
            ["**", "`", "```", "```py\n", "\n```\n", "<b>", "&", "\n\n", "[a](https://x.y)"]
        ),
    ),
    max_size=60,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(_markdown, st.sampled_from([64, 300, TELEGRAM_LIMIT]))
def test_any_text_becomes_parts_that_fit_and_parse(text: str, limit: int) -> None:
    for part in split_reply(text, limit):
        shown = visible_text(part)  # never a markup error
        assert utf16_len(shown) <= limit
        assert shown.strip()
