"""slack_sdk, imported once for the connector (the extra ``slack``)."""

from __future__ import annotations

import slack_sdk.errors
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

SlackApiError = slack_sdk.errors.SlackApiError
SlackClientError = slack_sdk.errors.SlackClientError

__all__ = [
    "AsyncBaseSocketModeClient",
    "AsyncSlackResponse",
    "AsyncWebClient",
    "SlackApiError",
    "SlackClientError",
    "SocketModeClient",
    "SocketModeRequest",
    "SocketModeResponse",
]
