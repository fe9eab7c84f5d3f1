"""Replies posted in Discord: where they go, split at 2,000 characters, resumed on retry.

A reply to a Discord message is a Discord reply to it, in its channel; a reply to another
input's message (cron, HTTP) goes to ``post_channel_id`` or to the channel the reply's
``metadata["discord_channel_id"]`` names. A send that failed part-way resumes after the last
part that went out when the runner retries it. Each sent message's reply depth is
remembered, so a reply to it arrives one level deeper (``Message.depth``).
"""

from __future__ import annotations

import asyncio

from agent_runner.errors import ConnectorError, DeliveryError, RateLimitedError
from agent_runner.message import Message, Reply
from connectors.discord.client import ConnectorClient
from connectors.discord.errors import TRANSIENT_ERRORS
from connectors.discord.sdk import discord
from connectors.discord.split import DISCORD_LIMIT, split_message

DEPTH_MEMORY = 10_000
"""How many of its own sent message ids the connector remembers for reply depths."""
_PROGRESS_MEMORY = 1000


class ReplyPoster:
    """Posts replies for the connector named ``source``.

    Args:
        source: the connector's name (requests from it are answered in place).
        post_channel_id: where replies to other inputs' messages go by default.
        max_wait: the longest 429 wait discord.py may sleep for one request.
        request_timeout: seconds for each REST call (plus ``max_wait``).
    """

    def __init__(
        self, *, source: str, post_channel_id: int | None, max_wait: float, request_timeout: float
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

    def depth_of(self, message: discord.Message) -> int:
        """Replies to the bot's own replies are one deeper than what those answered."""
        reference = message.reference
        if reference is None or reference.message_id is None:
            return 0
        return self._depths.get(reference.message_id, -1) + 1

    async def send(self, client: ConnectorClient, request: Message, response: Reply) -> None:
        """Post ``response`` to ``request``; see :meth:`DiscordConnector.send` for errors."""
        channel_id, reference = self.target(request, response)
        text = response.text
        if response.attachments:
            text = "\n".join([text, *(a.url for a in response.attachments)]).strip()
        parts = split_message(text, DISCORD_LIMIT)
        key = (request.key, text)
        channel = client.get_partial_messageable(channel_id)
        for index in range(self._progress.get(key, 0), len(parts)):
            try:
                async with asyncio.timeout(self._max_wait + self._request_timeout):
                    sent = await channel.send(
                        content=parts[index],
                        reference=reference if index == 0 else None,  # type: ignore[arg-type]
                        allowed_mentions=self._allowed_mentions,
                    )
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
            self._progress[key] = index + 1
            if len(self._progress) > _PROGRESS_MEMORY:
                self._progress.pop(next(iter(self._progress)))
            self._depths[sent.id] = request.depth + 1
            if len(self._depths) > DEPTH_MEMORY:
                self._depths.pop(next(iter(self._depths)))
        self._progress.pop(key, None)

    def target(
        self, request: Message, response: Reply
    ) -> tuple[int, discord.MessageReference | None]:
        """The channel to post in and the message to reply to."""
        override = response.metadata.get("discord_channel_id")
        if request.source == self._source and override is None:
            channel_id = int(str(request.metadata.get("channel_id") or request.conversation_id))
            reference = discord.MessageReference(
                message_id=int(request.id), channel_id=channel_id, fail_if_not_exists=False
            )
            return channel_id, reference
        target = override if override is not None else self._post_channel_id
        if target is None or not str(target).isdigit():
            raise DeliveryError(
                f"no Discord channel for the reply to {request.key}: set post_channel_id "
                "(DISCORD_POST_CHANNEL_ID) or the reply's metadata['discord_channel_id']"
            )
        return int(str(target)), None


__all__ = ["DEPTH_MEMORY", "ReplyPoster"]
