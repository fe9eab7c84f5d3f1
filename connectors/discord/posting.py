"""Replies posted in Discord: where they go, split at 2,000 characters, resumed on retry.

A reply to a Discord message is a Discord reply to it, in its channel; a reply to another
input's message (cron, HTTP) goes to ``post_channel_id`` or to the channel the reply's
``metadata["discord_channel_id"]`` names. A send that failed part-way resumes after the last
part that went out when the runner retries it, also after a crash: the parts are in the
runner's reply ledger, and each carries a nonce Discord deduplicates (``exactly_once``).
The reply's files follow its text, uploaded in messages of at most 10 files and 10 MiB
(:mod:`connectors.discord.media`).
Each sent message's reply depth is remembered, so a reply to it arrives one level deeper
(``Message.depth``).

Streaming: the first chunk posts the reply, later chunks edit it at most once per
``stream_interval`` (:mod:`connectors._chat.live`); discord.py waits a 429 out itself
(within ``max_rate_limit_wait``; a longer one skips that edit and halves the pace), and the
final ``send`` edits in the whole first part and posts the rest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from agent_runner.connector import DeliveryKey
from agent_runner.errors import ConnectorError, DeliveryError, RateLimitedError
from agent_runner.message import File, Message, Reply
from connectors._chat import LiveReplies
from connectors.discord.buttons import buttons_view
from connectors.discord.client import ConnectorClient
from connectors.discord.errors import TRANSIENT_ERRORS
from connectors.discord.media import batches, discord_files
from connectors.discord.sdk import discord
from connectors.discord.split import DISCORD_LIMIT, split_message

DEPTH_MEMORY = 10_000
"""How many of its own sent message ids the connector remembers for reply depths."""
_PROGRESS_MEMORY = 1000
STREAM_INTERVAL = 1.5
"""Least seconds between two edits of a streamed reply (Discord allows 5 edits per 5 s per
channel; this leaves room for other replies)."""


def preview(text: str) -> str:
    """A streamed reply so far, as one message (the start, then "…" if it is longer)."""
    parts = split_message(text, DISCORD_LIMIT - 2)
    if not parts:
        return ""
    return parts[0] + ("\n…" if len(parts) > 1 else "")


def _rate_limited(exc: BaseException) -> float | None:
    if isinstance(exc, discord.RateLimited):
        return float(exc.retry_after)
    if isinstance(exc, discord.HTTPException) and exc.status == 429:
        return 1.0
    return None


class ReplyPoster:
    """Posts replies for the connector named ``source``.

    Args:
        source: the connector's name (requests from it are answered in place).
        post_channel_id: where replies to other inputs' messages go by default.
        max_wait: the longest 429 wait discord.py may sleep for one request.
        request_timeout: seconds for each REST call (plus ``max_wait``).
        stream_interval: least seconds between two edits of a streamed reply.
        clock: the time source of streaming edits (injected in tests).
    """

    def __init__(
        self,
        *,
        source: str,
        post_channel_id: int | None,
        max_wait: float,
        request_timeout: float,
        stream_interval: float = STREAM_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._post_channel_id = post_channel_id
        self._max_wait = max_wait
        self._request_timeout = request_timeout
        self._progress: dict[tuple[str, str], int] = {}  # parts sent of a reply being retried
        self._depths: dict[int, int] = {}  # the bot's sent message ids -> their reply depth
        self._allowed_mentions = discord.AllowedMentions(
            everyone=False, roles=False, users=True, replied_user=True
        )
        self.live = LiveReplies(
            prefix=f"discord:{source}",
            interval=stream_interval,
            clock=clock,
            timeout=request_timeout,
            rate_limited=_rate_limited,
            errors=(discord.DiscordException, *TRANSIENT_ERRORS),
        )

    def depth_of(self, message: discord.Message) -> int:
        """Replies to the bot's own replies are one deeper than what those answered."""
        reference = message.reference
        if reference is None or reference.message_id is None:
            return 0
        return self._depths.get(reference.message_id, -1) + 1

    async def send(
        self,
        client: ConnectorClient,
        request: Message,
        response: Reply,
        ledger: DeliveryKey | None = None,
    ) -> None:
        """Post ``response`` to ``request``; see :meth:`DiscordConnector.send` for errors.

        With the runner's ``ledger`` key, each part is posted with its stable ``nonce`` and
        ``enforce_nonce`` (Discord returns the message it already created for a nonce seen
        in the last minutes instead of posting it again), recorded once posted, and parts
        recorded before (an interrupted send) are skipped.
        """
        channel_id, reference = self.target(request, response)
        text = response.text
        if response.attachments:
            text = "\n".join([text, *(a.url for a in response.attachments)]).strip()
        parts: list[str | list[File]] = [*split_message(text, DISCORD_LIMIT)]
        parts.extend(batches(response.files))
        key = (request.key, text + "".join(f"\0{f.name}" for f in response.files))
        channel = client.get_partial_messageable(channel_id)
        live_id = self.live.message_id(request.key)
        for index in range(self._progress.get(key, 0), len(parts)):
            if ledger is not None and index in ledger.parts:
                continue
            part = parts[index]
            view = buttons_view(response.buttons) if index == len(parts) - 1 else None
            extra: dict[str, Any] = {"view": view} if view is not None else {}
            if isinstance(part, list):
                extra["files"] = await discord_files(part)
            if index == 0 and live_id is not None and isinstance(part, str):
                message = channel.get_partial_message(int(live_id))
                sent = await self._call(request, key, partial(message.edit, content=part, **extra))
            else:
                post = partial(
                    channel.send,
                    content=part if isinstance(part, str) else None,
                    reference=reference if index == 0 else None,
                    allowed_mentions=self._allowed_mentions,
                    nonce=None if ledger is None else ledger.nonce(index),
                    **extra,
                )
                sent = await self._call(request, key, post)
            if view is not None:
                view.stop()  # presses come to the connector, not to this view
            self._progress[key] = index + 1
            if len(self._progress) > _PROGRESS_MEMORY:
                self._progress.pop(next(iter(self._progress)))
            self._remember(sent.id, request.depth + 1)
            if ledger is not None:
                await ledger.part_delivered(index, str(sent.id))
        self._progress.pop(key, None)
        await self.live.finish(request.key)

    async def _call(
        self,
        request: Message,
        key: tuple[str, str],
        call: Callable[[], Awaitable[discord.Message]],
    ) -> discord.Message:
        """One REST call for the reply to ``request``, its failures mapped."""
        try:
            async with asyncio.timeout(self._max_wait + self._request_timeout):
                return await call()
        except discord.RateLimited as exc:
            raise RateLimitedError(
                f"Discord asks to wait {exc.retry_after:.1f}s, over the "
                f"{self._max_wait:.1f}s cap (reply to {request.key})",
                retry_after=exc.retry_after,
            ) from None
        except (discord.Forbidden, discord.NotFound) as exc:
            self._progress.pop(key, None)
            raise DeliveryError(f"Discord refused the reply to {request.key}: {exc}") from None
        except discord.DiscordServerError as exc:
            raise ConnectorError(f"Discord failed the reply to {request.key}: {exc}") from exc
        except discord.HTTPException as exc:
            if exc.status == 429:
                raise RateLimitedError(f"Discord rate limit on {request.key}: {exc}") from None
            self._progress.pop(key, None)
            raise DeliveryError(f"Discord refused the reply to {request.key}: {exc}") from None
        except TRANSIENT_ERRORS as exc:
            raise ConnectorError(f"Discord unreachable for {request.key}: {exc!r}") from exc

    def _remember(self, message_id: int, depth: int) -> None:
        self._depths[message_id] = depth
        if len(self._depths) > DEPTH_MEMORY:
            self._depths.pop(next(iter(self._depths)))

    async def send_chunk(self, client: ConnectorClient, request: Message, chunk: str) -> None:
        """Show the reply streamed so far as one message, edited at a safe pace."""
        channel_id, reference = self.target(request, Reply())
        channel = client.get_partial_messageable(channel_id)

        async def post(text: str) -> str:
            sent = await channel.send(
                content=text,
                reference=reference,  # type: ignore[arg-type]
                allowed_mentions=self._allowed_mentions,
            )
            self._remember(sent.id, request.depth + 1)
            return str(sent.id)

        async def edit(message_id: str, text: str) -> object:
            return await channel.get_partial_message(int(message_id)).edit(content=text)

        await self.live.chunk(request.key, chunk, render=preview, post=post, edit=edit)

    def target(
        self, request: Message, response: Reply
    ) -> tuple[int, discord.MessageReference | None]:
        """The channel to post in and the message to reply to."""
        override = response.metadata.get("discord_channel_id")
        if request.source == self._source and override is None:
            channel_id = int(str(request.metadata.get("channel_id") or request.conversation_id))
            button = request.metadata.get("button")  # a press: answer the pressed message
            anchor = button.get("message_id") if isinstance(button, dict) else request.id
            reference = discord.MessageReference(
                message_id=int(str(anchor)), channel_id=channel_id, fail_if_not_exists=False
            )
            return channel_id, reference
        target = override if override is not None else self._post_channel_id
        if target is None or not str(target).isdigit():
            raise DeliveryError(
                f"no Discord channel for the reply to {request.key}: set post_channel_id "
                "(DISCORD_POST_CHANNEL_ID) or the reply's metadata['discord_channel_id']"
            )
        return int(str(target)), None


__all__ = ["DEPTH_MEMORY", "STREAM_INTERVAL", "ReplyPoster", "preview"]
