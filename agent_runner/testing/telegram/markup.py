"""Telegram's HTML parse mode, strictly: what the fake accepts and what users then see.

Telegram refuses a message whose HTML does not parse ("can't parse entities"): an unknown
tag, a tag closed out of order or never closed, a bare ``<`` or ``&``. Accepted, the text
users see is the markup's text with entities decoded; its length is what the 4,096 limit
counts.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

ALLOWED_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
        "a", "code", "pre", "blockquote", "tg-emoji",
    }
)  # fmt: skip
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


class MarkupError(ValueError):
    """Why Telegram would refuse the markup."""


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            raise MarkupError(f'unsupported start tag "{tag}"')
        if tag == "a" and not dict(attrs).get("href"):
            raise MarkupError('a tag "a" needs an "href"')
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise MarkupError(f'unexpected end tag "{tag}"')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible_text(markup: str) -> str:
    """The text users see for HTML ``markup``; raises MarkupError where Telegram would refuse."""
    for index, char in enumerate(markup):
        if char == "&" and not _ENTITY.match(markup, index):
            raise MarkupError(f'bare "&" at byte offset {index}')
    if re.search(r"<(?![a-zA-Z/])", markup):
        raise MarkupError('bare "<" (escape it as &lt;)')
    parser = _Parser()
    parser.feed(markup)
    parser.close()
    if parser.stack:
        raise MarkupError(f'can\'t find end tag corresponding to start tag "{parser.stack[-1]}"')
    return "".join(parser.text)


__all__ = ["ALLOWED_TAGS", "MarkupError", "visible_text"]
