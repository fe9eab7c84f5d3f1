"""The Telegram output: replies as replies, split and formatted, streamed as throttled edits.

A reply goes to the chat (and forum topic) of the message it answers, as a Telegram reply
to it (``reply_parameters``; sent anyway if that message is gone), split into 4,096-unit
HTML parts, then its files (photos and documents, :mod:`connectors.telegram.media`);
buttons become an inline keyboard on the last part. A send that failed
part-way resumes after the last part that went out when the runner retries it.

Streaming: the first chunk posts a message, later chunks edit it at most once per
``interval`` (on the injected clock); a 429 doubles the interval and postpones the next
edit, the text is kept. The final ``send`` replaces the streamed message with the whole
first part (waiting out 429s within the cap) and posts the rest. The streamed message's id
is kept in the store until then, so a restart mid-stream edits it instead of posting again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from agent_runner.errors import DeliveryError
from agent_runner.message import Button, File, Message, Reply
from connectors._chat import LiveReplies
from connectors._chat.calls import ApiCaller
from connectors.telegram import media
from connectors.telegram.calls import rate_limited
from connectors.telegram.format import preview, split_reply
from connectors.telegram.sdk import telegram

_log = logging.getLogger("connectors.telegram")
HTML = telegram.constants.ParseMode.HTML
DEPTH_MEMORY = 10_000
"""How many of its own sent message ids the connector remembers for reply depths."""
BUTTONS_PER_ROW = 3


def keyboard(buttons: Sequence[Button]) -> telegram.InlineKeyboardMarkup | None:
    """Buttons as an inline keyboard, up to three a row."""
    if not buttons:
        return None
    keys = [telegram.InlineKeyboardButton(b.label, callback_data=b.value) for b in buttons]
    rows = [keys[i : i + BUTTONS_PER_ROW] for i in range(0, len(keys), BUTTONS_PER_ROW)]
    return telegram.InlineKeyboardMarkup(rows)


class Target:
    """Where a reply goes: chat, forum topic, and the message it answers."""

    __slots__ = ("chat_id", "message_id", "thread_id")

    def __init__(self, chat_id: int, message_id: int | None, thread_id: int | None) -> None:
        self.chat_id, self.message_id, self.thread_id = chat_id, message_id, thread_id


class TelegramReplies:
    """Sends and streams replies through one bot (owned by the connector)."""

    def __init__(
        self,
        *,
        source: str,
        caller: ApiCaller,
        post_chat_id: int | None,
        stream_interval: float,
        clock: Callable[[], float],
    ) -> None:
        self._source = source
        self._call = caller
        self._post_chat_id = post_chat_id
        self._interval = stream_interval
        self._clock = clock
        self.bot: telegram.Bot | None = None
        self._progress: dict[tuple[str, str], int] = {}
        self.live = LiveReplies(
            prefix=f"telegram:{source}",
            interval=stream_interval,
            clock=clock,
            timeout=caller.timeout,
            rate_limited=rate_limited,
            errors=(telegram.error.TelegramError, TimeoutError, OSError),
        )
        self.depths: dict[int, int] = {}
        """The bot's sent message ids (in their chats) -> the reply depth they carry."""

    def _bot(self) -> telegram.Bot:
        if self.bot is None:
            raise DeliveryError("the Telegram connector is not open")
        return self.bot

    def target(self, request: Message, response: Reply) -> Target:
        override = response.metadata.get("telegram_chat_id")
        if request.source == self._source and override is None:
            meta = request.metadata
            thread = meta.get("thread_id")
            message_id = meta.get("message_id")
            return Target(
                int(str(meta.get("chat_id"))),
                int(str(message_id)) if message_id is not None else None,
                int(str(thread)) if thread is not None else None,
            )
        chat = override if override is not None else self._post_chat_id
        if chat is None:
            raise DeliveryError(
                f"no Telegram chat for the reply to {request.key}: set post_chat_id "
                "(TELEGRAM_POST_CHAT_ID) or the reply's metadata['telegram_chat_id']"
            )
        return Target(int(str(chat)), None, None)

    # -- whole replies ---------------------------------------------------------------
    async def send(self, request: Message, response: Reply) -> None:
        text = response.text
        if response.attachments:
            text = "\n".join([text, *(a.url for a in response.attachments)]).strip()
        parts = split_reply(text)
        files = response.files
        if not parts and not files:
            return
        media.check_uploads(files)
        target = self.target(request, response)
        markup = keyboard(response.buttons)
        key = (request.key, text + "".join(f"\0{f.name}" for f in files))
        live_id = self.live.message_id(request.key)
        steps = len(parts) + len(files)
        for index in range(self._progress.get(key, 0), steps):
            last = index == steps - 1
            if index >= len(parts):
                file = files[index - len(parts)]
                sent_id = await self._upload(target, file, markup if last else None, index)
            elif index == 0 and live_id is not None:
                await self._edit(target, int(live_id), parts[0], markup if last else None)
                sent_id = int(live_id)
            else:
                sent_id = await self._post(target, parts[index], markup if last else None, index)
            self._progress[key] = index + 1
            if len(self._progress) > 1000:
                self._progress.pop(next(iter(self._progress)))
            self._remember(target.chat_id, sent_id, request.depth + 1)
        self._progress.pop(key, None)
        await self.live.finish(request.key)

    async def _upload(
        self, target: Target, file: File, markup: telegram.InlineKeyboardMarkup | None, index: int
    ) -> int:
        return await media.upload(
            self._call,
            self._bot(),
            file,
            chat_id=target.chat_id,
            thread_id=target.thread_id,
            reply=self._reply_to(target) if index == 0 else None,
            markup=markup,
        )

    def _reply_to(self, target: Target) -> telegram.ReplyParameters | None:
        if target.message_id is None:
            return None
        return telegram.ReplyParameters(
            message_id=target.message_id, allow_sending_without_reply=True
        )

    async def _post(
        self,
        target: Target,
        html: str,
        markup: telegram.InlineKeyboardMarkup | None,
        index: int,
    ) -> int:
        bot = self._bot()
        reply = None
        if index == 0 and target.message_id is not None:
            reply = telegram.ReplyParameters(
                message_id=target.message_id, allow_sending_without_reply=True
            )
        sent = await self._call(
            "sendMessage",
            lambda: bot.send_message(
                target.chat_id,
                html,
                parse_mode=HTML,
                reply_parameters=reply,
                reply_markup=markup,
                message_thread_id=target.thread_id,
            ),
        )
        return sent.message_id

    async def _edit(
        self,
        target: Target,
        message_id: int,
        html: str,
        markup: telegram.InlineKeyboardMarkup | None,
    ) -> None:
        bot = self._bot()
        try:
            await self._call(
                "editMessageText",
                lambda: bot.edit_message_text(
                    html,
                    chat_id=target.chat_id,
                    message_id=message_id,
                    parse_mode=HTML,
                    reply_markup=markup,
                ),
            )
        except DeliveryError as exc:
            if "not modified" not in str(exc):
                raise

    def _remember(self, chat_id: int, message_id: int, depth: int) -> None:
        self.depths[hash((chat_id, message_id))] = depth
        if len(self.depths) > DEPTH_MEMORY:
            self.depths.pop(next(iter(self.depths)))

    def depth_of(self, chat_id: int, replied_to: int | None) -> int:
        """Replies to the bot's own replies are one deeper than what those answered."""
        if replied_to is None:
            return 0
        return self.depths.get(hash((chat_id, replied_to)), -1) + 1

    # -- streaming -------------------------------------------------------------------
    async def send_chunk(self, request: Message, chunk: str) -> None:
        target = self.target(request, Reply())
        bot = self._bot()

        async def post(html: str) -> str:
            reply = None
            if target.message_id is not None:
                reply = telegram.ReplyParameters(
                    message_id=target.message_id, allow_sending_without_reply=True
                )
            sent = await bot.send_message(
                target.chat_id,
                html,
                parse_mode=HTML,
                reply_parameters=reply,
                message_thread_id=target.thread_id,
            )
            return str(sent.message_id)

        async def edit(message_id: str, html: str) -> object:
            return await bot.edit_message_text(
                html, chat_id=target.chat_id, message_id=int(message_id), parse_mode=HTML
            )

        await self.live.chunk(request.key, chunk, render=preview, post=post, edit=edit)


__all__ = ["BUTTONS_PER_ROW", "DEPTH_MEMORY", "TelegramReplies", "Target", "keyboard"]
