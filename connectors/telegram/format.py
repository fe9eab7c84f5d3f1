"""Telegram text: Markdown replies rendered as Telegram HTML that always parses.

Telegram refuses a whole message whose markup does not parse, so the agent's Markdown is
never passed through: every character is HTML-escaped, and only a few well-formed
constructs become tags (fenced code blocks, inline code, ``**bold**``, ``[text](https://..)``
links). Unbalanced markers stay literal text. Parts are split before rendering, at 4,096
UTF-16 code units of source text, which is never less than what Telegram counts after
parsing the HTML.
"""

from __future__ import annotations

import html
import re

from connectors._chat import fenced_sections, split_blocks, utf16_size

TELEGRAM_LIMIT = 4096
"""Telegram's limit on a message's text after formatting, in UTF-16 code units."""
_INLINE = re.compile(
    r"`(?P<code>[^`\n]+)`"
    r"|\*\*(?P<bold>[^*\n]+?)\*\*"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<href>https?://[^)\s\"<>]+)\)"
)


def _inline(text: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[pos : match.start()], quote=False))
        if match.group("code") is not None:
            out.append(f"<code>{html.escape(match.group('code'), quote=False)}</code>")
        elif match.group("bold") is not None:
            out.append(f"<b>{html.escape(match.group('bold'), quote=False)}</b>")
        else:
            href = html.escape(match.group("href"), quote=True)
            out.append(f'<a href="{href}">{html.escape(match.group("label"), quote=False)}</a>')
        pos = match.end()
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


def render_html(markdown: str) -> str:
    """One part of a reply as Telegram HTML (``parse_mode="HTML"``).

    >>> render_html("**hi** <you> & `x<y`")
    '<b>hi</b> &lt;you&gt; &amp; <code>x&lt;y</code>'
    >>> render_html("```python\\nif a < b:\\n    pass\\n```")
    '<pre><code class="language-python">if a &lt; b:\\n    pass</code></pre>'
    """
    out: list[str] = []
    for lang, body in fenced_sections(markdown):
        if lang is None:
            out.append(_inline(body))
            continue
        code = html.escape(body, quote=False)
        out.append(
            f'<pre><code class="language-{lang}">{code}</code></pre>'
            if lang
            else f"<pre>{code}</pre>"
        )
    return "\n".join(out).strip("\n")


def split_reply(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """The reply as Telegram HTML parts, each within ``limit`` after formatting."""
    return [render_html(part) for part in split_blocks(text, limit, size=utf16_size)]


def preview(text: str, limit: int = TELEGRAM_LIMIT) -> str:
    """A streamed reply so far, as one HTML message (the start, then "…" if it is longer).

    An unclosed code block is closed for the preview, so it renders as code already.
    """
    parts = split_blocks(text, limit - 2, size=utf16_size)
    if not parts:
        return ""
    return render_html(parts[0]) + ("\n…" if len(parts) > 1 else "")


__all__ = ["TELEGRAM_LIMIT", "preview", "render_html", "split_reply"]
