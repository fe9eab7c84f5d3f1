"""The Slack output: replies in the thread, split, with buttons, streamed as edits.

A reply to a Slack message goes to its channel, in its thread (``thread_ts``), split into
3,000-character mrkdwn parts; buttons become a Block Kit ``actions`` block under the last
part. Every part carries message metadata (``event_type`` ``agent_runner_reply``, with the
reply key, the part and the count), so our replies can be found again in the channel's
history. The reply's files follow, shared in the thread with the external upload flow
(:mod:`connectors.slack.media`). A send that failed part-way resumes after the last part
that went out.

Streaming: the first chunk posts a message in the thread, later chunks ``chat.update`` it
at most once per interval (see :mod:`connectors._chat.live`); the final send replaces it
with the whole first part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from agent_runner.errors import DeliveryError
from agent_runner.message import Button, Message, Reply
from connectors._chat import LiveReplies
from connectors._chat.calls import ApiCaller
from connectors.slack import media
from connectors.slack.calls import TRANSIENT_ERRORS, rate_limit_wait
from connectors.slack.format import preview, split_reply
from connectors.slack.sdk import AsyncWebClient, SlackApiError

METADATA_EVENT = "agent_runner_reply"
"""The ``event_type`` of the metadata on every reply."""


def button_blocks(text: str, buttons: Sequence[Button]) -> list[dict[str, Any]] | None:
    """The text in a section and the buttons in an actions block (None without buttons)."""
    if not buttons:
        return None
    elements = [
        {
            "type": "button",
            "action_id": f"agent_runner_button_{index}",
            "text": {"type": "plain_text", "text": button.label, "emoji": True},
            "value": button.value,
        }
        for index, button in enumerate(buttons)
    ]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        *(
            {
                "type": "actions",
                "block_id": f"agent_runner_buttons_{n}",
                "elements": elements[n : n + 25],
            }
            for n in range(0, len(elements), 25)
        ),
    ]


class SlackReplies:
    """Sends and streams replies through one web client (owned by the connector)."""

    def __init__(
        self,
        *,
        source: str,
        caller: ApiCaller,
        post_channel_id: str | None,
        stream_interval: float,
        clock: Callable[[], float],
    ) -> None:
        self._source = source
        self._call = caller
        self._post_channel_id = post_channel_id
        self.client: AsyncWebClient | None = None
        self._progress: dict[tuple[str, str], int] = {}
        self.live = LiveReplies(
            prefix=f"slack:{source}",
            interval=stream_interval,
            clock=clock,
            timeout=caller.timeout,
            rate_limited=rate_limit_wait,
            errors=(SlackApiError, *TRANSIENT_ERRORS),
        )

    def _client(self) -> AsyncWebClient:
        if self.client is None:
            raise DeliveryError("the Slack connector is not open")
        return self.client

    def target(self, request: Message, response: Reply) -> tuple[str, str | None]:
        """The channel and thread a reply goes to."""
        override = response.metadata.get("slack_channel_id")
        if request.source == self._source and override is None:
            thread = request.metadata.get("thread_ts")
            return str(request.metadata["channel_id"]), str(thread) if thread else None
        channel = override if override is not None else self._post_channel_id
        if not channel:
            raise DeliveryError(
                f"no Slack channel for the reply to {request.key}: set post_channel_id "
                "(SLACK_POST_CHANNEL_ID) or the reply's metadata['slack_channel_id']"
            )
        return str(channel), None

    async def send(self, request: Message, response: Reply) -> None:
        text = response.text
        if response.attachments:
            text = "\n".join([text, *(a.url for a in response.attachments)]).strip()
        parts = split_reply(text)
        media.check_uploads(response.files)
        groups = [
            response.files[i : i + media.FILES_PER_UPLOAD]
            for i in range(0, len(response.files), media.FILES_PER_UPLOAD)
        ]
        if not parts and not groups:
            return
        channel, thread = self.target(request, response)
        client = self._client()
        key = (request.key, text + "".join(f"\0{f.name}" for f in response.files))
        live_ts = self.live.message_id(request.key)
        steps = len(parts) + len(groups)
        for index in range(self._progress.get(key, 0), steps):
            if index >= len(parts):
                uploads = await media.file_uploads(groups[index - len(parts)])
                upload = partial(
                    client.files_upload_v2, file_uploads=uploads, channel=channel, thread_ts=thread
                )
                await self._call("files.completeUploadExternal", upload)
                self._progress[key] = index + 1
                continue
            part = parts[index]
            last = index == len(parts) - 1
            blocks = button_blocks(part, response.buttons) if last else None
            metadata = {
                "event_type": METADATA_EVENT,
                "event_payload": {"reply_to": request.key, "part": index + 1, "parts": len(parts)},
            }
            fields: dict[str, Any] = {"channel": channel, "text": part, "metadata": metadata}
            if index == 0 and live_ts is not None:
                update = partial(client.chat_update, ts=live_ts, blocks=blocks or [], **fields)
                await self._call("chat.update", update)
            else:
                post = partial(
                    client.chat_postMessage,
                    thread_ts=thread,
                    blocks=blocks,
                    unfurl_links=False,
                    unfurl_media=False,
                    **fields,
                )
                await self._call("chat.postMessage", post)
            self._progress[key] = index + 1
            if len(self._progress) > 1000:
                self._progress.pop(next(iter(self._progress)))
        self._progress.pop(key, None)
        await self.live.finish(request.key)

    async def send_chunk(self, request: Message, chunk: str) -> None:
        channel, thread = self.target(request, Reply())
        client = self._client()

        async def post(text: str) -> str:
            sent = await client.chat_postMessage(channel=channel, text=text, thread_ts=thread)
            return str(sent["ts"])

        async def edit(ts: str, text: str) -> object:
            return await client.chat_update(channel=channel, ts=ts, text=text)

        await self.live.chunk(request.key, chunk, render=preview, post=post, edit=edit)


__all__ = ["METADATA_EVENT", "SlackReplies", "button_blocks"]
