"""Which Telegram updates the bot answers, and the runner message each becomes.

Addressing follows Telegram's privacy mode: in private chats every message; in groups only
a message that mentions the bot (``@bot_username``, or a text mention of its account),
replies to one of its messages, or starts with one of its commands (``/ask``, or
``/ask@bot_username``; a command addressed to another bot is not ours). The bot's own
messages are dropped here; other bots' are marked (``author.is_bot``) so the runner drops
them unless it allows bots. A button press (callback query) on one of the bot's messages
becomes a message whose text is the button's value. A photo or document comes as an
attachment (:mod:`connectors.telegram.media`); its caption is the text.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from connectors.telegram.media import attachments
from connectors.telegram.sdk import telegram

GROUP_TYPES = frozenset({"group", "supergroup"})


@dataclass(frozen=True, slots=True)
class Scope:
    """Where and when the bot answers."""

    chat_ids: frozenset[int] = frozenset()
    """Groups to answer in (empty: all). Private chats are not filtered by it."""
    commands: frozenset[str] = frozenset({"ask"})
    direct_messages: bool = True


@dataclass(frozen=True, slots=True)
class BotIdentity:
    id: int
    username: str


def _author(user: telegram.User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "name": (user.full_name or user.username or str(user.id))[:256],
        "is_bot": bool(user.is_bot),
    }


def _command(entity_text: str, bot: BotIdentity) -> tuple[str, bool]:
    """``("/ask@name")`` -> ``("ask", for_us)``."""
    name, _, target = entity_text.lstrip("/").partition("@")
    return name.lower(), not target or target.lower() == bot.username.lower()


def _addressing(message: telegram.Message, bot: BotIdentity, scope: Scope) -> tuple[bool, str]:
    """Whether a group message addresses the bot, and its text without the address."""
    text = message.text or message.caption or ""
    addressed = False
    strip: list[str] = []
    entities = message.parse_entities() if message.text else message.parse_caption_entities()
    for entity, value in entities.items():
        if entity.type == telegram.MessageEntity.MENTION and (
            value.lower() == f"@{bot.username.lower()}"
        ):
            addressed = True
            strip.append(value)
        elif entity.type == telegram.MessageEntity.TEXT_MENTION and (
            entity.user is not None and entity.user.id == bot.id
        ):
            addressed = True
        elif entity.type == telegram.MessageEntity.BOT_COMMAND and entity.offset == 0:
            name, for_us = _command(value, bot)
            if name in scope.commands and for_us:
                addressed = True
                strip.append(value)
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        addressed = True
    for token in strip:
        text = text.replace(token, "", 1)
    return addressed, " ".join(text.split(" ")).strip()


def message_fields(
    message: telegram.Message,
    *,
    source: str,
    bot: BotIdentity,
    scope: Scope,
    depth: int = 0,
) -> dict[str, Any] | None:
    """The runner message for a Telegram message, or None when the bot should not answer."""
    chat = message.chat
    author = message.from_user
    if author is None or author.id == bot.id:
        return None
    if chat.type == telegram.constants.ChatType.PRIVATE:
        if not scope.direct_messages:
            return None
        text = message.text or message.caption or ""
        if text.startswith("/"):  # "/ask what" in a private chat: the question is "what"
            head, _, rest = text.partition(" ")
            name, for_us = _command(head, bot)
            if name in scope.commands and for_us:
                text = rest
    elif chat.type in GROUP_TYPES:
        if scope.chat_ids and chat.id not in scope.chat_ids:
            return None
        addressed, text = _addressing(message, bot, scope)
        if not addressed:
            return None
    else:
        return None  # channels: the bot posts there, it does not converse
    files = attachments(message)
    if not text.strip() and not files:
        return None
    thread = message.message_thread_id if message.is_topic_message else None
    conversation = f"{chat.id}:{thread}" if thread else str(chat.id)
    replied = message.reply_to_message
    metadata: dict[str, Any] = {
        "chat_id": chat.id,
        "chat_type": chat.type,
        "message_id": message.message_id,
    }
    if thread:
        metadata["thread_id"] = thread
    return {
        "id": f"{chat.id}:{message.message_id}",
        "conversation_id": conversation,
        "source": source,
        "author": _author(author),
        "text": text,
        "attachments": files,
        "reply_to": f"{chat.id}:{replied.message_id}" if replied is not None else None,
        "depth": depth,
        "metadata": metadata,
        "created_at": message.date,
    }


def button_label(message: telegram.MaybeInaccessibleMessage | None, value: str) -> str | None:
    """The label of the inline button with callback data ``value`` on ``message``."""
    markup = getattr(message, "reply_markup", None)
    if not isinstance(markup, telegram.InlineKeyboardMarkup):
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == value:
                return button.text
    return None


def callback_fields(
    query: telegram.CallbackQuery, *, source: str, bot: BotIdentity, scope: Scope
) -> dict[str, Any] | None:
    """The runner message for a press of one of the bot's inline buttons, or None."""
    message = query.message
    value = query.data
    if message is None or not value or query.from_user.id == bot.id:
        return None
    chat = message.chat
    if chat.type in GROUP_TYPES and scope.chat_ids and chat.id not in scope.chat_ids:
        return None
    thread = getattr(message, "message_thread_id", None)
    topic = bool(getattr(message, "is_topic_message", False))
    conversation = f"{chat.id}:{thread}" if topic and thread else str(chat.id)
    user = query.from_user
    metadata: dict[str, Any] = {
        "chat_id": chat.id,
        "chat_type": chat.type,
        "message_id": message.message_id,
        "button": {
            "value": value,
            "label": button_label(message, value),
            "message_id": message.message_id,
            "callback_query_id": query.id,
        },
    }
    if topic and thread:
        metadata["thread_id"] = thread
    return {
        "id": f"callback:{query.id}",
        "conversation_id": conversation,
        "source": source,
        "author": _author(user),
        "text": value,
        "reply_to": f"{chat.id}:{message.message_id}",
        "metadata": metadata,
    }


def allowed_chats(values: Collection[int | str]) -> frozenset[int]:
    return frozenset(int(v) for v in values)


__all__ = [
    "GROUP_TYPES",
    "BotIdentity",
    "Scope",
    "allowed_chats",
    "button_label",
    "callback_fields",
    "message_fields",
]
