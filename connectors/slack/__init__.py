"""Slack: a bot on slack_sdk (extra ``slack``), Socket Mode or the Events API.

See :mod:`connectors.slack.connector` for the contract; test offline against
:class:`agent_runner.testing.slack.FakeSlack`.
"""

from connectors.slack.calls import DEFAULT_RETRY
from connectors.slack.connector import SlackConnector
from connectors.slack.format import SLACK_LIMIT, render_mrkdwn, split_reply
from connectors.slack.replies import METADATA_EVENT
from connectors.slack.settings import SlackSettings

__all__ = [
    "DEFAULT_RETRY",
    "METADATA_EVENT",
    "SLACK_LIMIT",
    "SlackConnector",
    "SlackSettings",
    "render_mrkdwn",
    "split_reply",
]
