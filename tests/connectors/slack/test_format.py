"""Slack formatting: escaped so nothing pings or breaks, parts within Slack's limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.slack import SLACK_LIMIT, render_mrkdwn, split_reply
from connectors.slack.convert import BotIdentity, Scope, event_fields
from connectors.slack.events import signature, verify


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("<!channel> hi", "&lt;!channel&gt; hi"),
        ("**bold** & <@U1>", "*bold* &amp; &lt;@U1&gt;"),
        ("[docs](https://x.y/a?b=1&c=2)", "<https://x.y/a?b=1&amp;c=2|docs>"),
        ("```py\nif a < b: pass\n```", "```\nif a &lt; b: pass\n```"),
    ],
)
def test_render(markdown: str, mrkdwn: str) -> None:
    assert render_mrkdwn(markdown) == mrkdwn


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="ab <>&*`\n!@", max_size=8000), st.sampled_from([64, 500, SLACK_LIMIT]))
def test_parts_fit_and_never_carry_a_raw_angle_bracket(text: str, limit: int) -> None:
    for part in split_reply(text, limit):
        assert len(part) <= limit
        assert "<" not in part.replace("<https://", "")


def test_mentions_are_stripped_and_subtypes_skipped() -> None:
    bot, scope = BotIdentity("U0BOT", "B0BOT"), Scope()
    mention = {
        "type": "app_mention",
        "channel": "C1",
        "ts": "1.0",
        "user": "U2",
        "text": "<@U0BOT> hi &amp; bye",
    }
    fields = event_fields(mention, source="slack", bot=bot, scope=scope)
    assert fields is not None and fields["text"] == "hi & bye"
    assert fields["conversation_id"] == "C1:1.0"
    edited = mention | {"type": "message", "channel_type": "im", "subtype": "message_changed"}
    assert event_fields(edited, source="slack", bot=bot, scope=scope) is None
    own = mention | {"bot_id": "B0BOT"}
    assert event_fields(own, source="slack", bot=bot, scope=scope) is None


def test_signatures_are_checked_with_a_replay_window() -> None:
    body = b'{"type":"event_callback"}'
    headers = {
        "X-Slack-Request-Timestamp": "1000",
        "X-Slack-Signature": signature("s", "1000", body),
    }
    assert verify("s", headers, body, now=1100) is None
    assert verify("s", headers, body, now=2000) == "stale X-Slack-Request-Timestamp"
    assert verify("other", headers, body, now=1100) == "wrong X-Slack-Signature"
    assert verify("s", {}, body, now=1100) is not None
