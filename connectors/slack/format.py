"""Slack text: Markdown replies as mrkdwn that cannot ping or break, split to Slack's limits.

Slack reads ``<...>`` as links and mentions (``<!channel>``, ``<@U123>``) and ``&`` as the
start of an entity, so every ``&``, ``<`` and ``>`` of the agent's text is escaped: a reply
never pings a channel or renders half a link. Markdown's ``**bold**`` becomes mrkdwn
``*bold*`` and ``[text](https://...)`` a Slack link; code keeps its fences. A part is at
most 3,000 characters once escaped (the limit of a section block, which carries the text
when the reply has buttons; a message's text may be longer, but Slack advises 4,000).
"""

from __future__ import annotations

import re

from connectors._chat import fenced_sections, split_blocks

SLACK_LIMIT = 3000
"""Characters per part, escaped (a section block's text limit)."""
_INLINE = re.compile(
    r"`[^`\n]+`"
    r"|\*\*(?P<bold>[^*\n]+?)\*\*"
    r"|\[(?P<label>[^\]\n|]+)\]\((?P<href>https?://[^)\s|<>]+)\)"
)


def escape(text: str) -> str:
    """Slack's three escapes.

    >>> escape("<!channel> & you")
    '&lt;!channel&gt; &amp; you'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _inline(text: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _INLINE.finditer(text):
        out.append(escape(text[pos : match.start()]))
        if match.group("bold") is not None:
            out.append(f"*{escape(match.group('bold'))}*")
        elif match.group("href") is not None:
            out.append(f"<{escape(match.group('href'))}|{escape(match.group('label'))}>")
        else:
            out.append(escape(match.group(0)))
        pos = match.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def render_mrkdwn(markdown: str) -> str:
    """One part of a reply as Slack mrkdwn.

    >>> render_mrkdwn("**hi** <@U1> `a<b`")
    '*hi* &lt;@U1&gt; `a&lt;b`'
    """
    out: list[str] = []
    for lang, body in fenced_sections(markdown):
        out.append(_inline(body) if lang is None else f"```\n{escape(body)}\n```")
    return "\n".join(out).strip("\n")


def _size(part: str) -> int:
    return len(render_mrkdwn(part))


def split_reply(text: str, limit: int = SLACK_LIMIT) -> list[str]:
    """The reply as mrkdwn parts of at most ``limit`` characters each."""
    return [render_mrkdwn(part) for part in split_blocks(text, limit, size=_size)]


def preview(text: str, limit: int = SLACK_LIMIT) -> str:
    """A streamed reply so far, as one message (the start, then "…" if it is longer)."""
    parts = split_blocks(text, limit - 2, size=_size)
    if not parts:
        return ""
    return render_mrkdwn(parts[0]) + ("\n…" if len(parts) > 1 else "")


__all__ = ["SLACK_LIMIT", "escape", "preview", "render_mrkdwn", "split_reply"]
