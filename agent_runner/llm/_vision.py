"""Images to the model: which models see them, which turns' images are sent, and how.

A model that accepts images (:func:`sees_images`: ``LLMAgent(vision=...)``, else its name
against ``LLM_VISION_MODELS``) gets each image attachment as an OpenAI ``image_url`` content
part: the attachment's own URL when anyone can fetch it, else the file as a base64 ``data:``
URL (platform URLs that need the bot's token; the model endpoint must never see a token).
Other models, and images that cannot be fetched, get the text listing
(``[attachment: photo.jpg (image/jpeg) ...]``).

Images stay in short-term memory by reference (:mod:`agent_runner.media.references`); only
the last ``image_turns`` turns that had images send them again, older ones are listed as text.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from agent_runner.agent import AgentContext
from agent_runner.errors import MediaError, OutboundRefusedError
from agent_runner.llm._client import ChatMessage
from agent_runner.media import attachments_from_meta, is_omitted
from agent_runner.message import Attachment, Message

DEFAULT_VISION_MODELS = (
    "gpt-4o*",
    "gpt-4.1*",
    "gpt-5*",
    "o1*",
    "o3*",
    "o4*",
    "chatgpt-4o*",
    "claude-*",
    "gemini-*",
    "*vision*",
    "*-vl*",
    "llava*",
    "pixtral*",
    "*/gpt-4o*",
    "*/claude-*",
    "*/gemini-*",
)
"""Model name patterns taken to accept images (``LLM_VISION_MODELS`` replaces them)."""
DEFAULT_IMAGE_TURNS = 2
"""How many of the latest turns with images send them to the model (the current one
included); older turns list them as text."""


def sees_images(model: str, patterns: Sequence[str] = DEFAULT_VISION_MODELS) -> bool:
    """True when ``model`` matches one of ``patterns`` (``fnmatch``, case-insensitive).

    >>> sees_images("gpt-4o-mini"), sees_images("gpt-3.5-turbo")
    (True, False)
    """
    name = model.lower()
    return any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in patterns)


def attachment_lines(attachments: Sequence[Attachment]) -> list[str]:
    """The text listing of attachments (what a model without vision is told)."""
    lines = []
    for attachment in attachments:
        kind = f" ({attachment.content_type})" if attachment.content_type else ""
        label = attachment.filename or "file"
        where = "" if attachment.url.startswith("data:") else f" {attachment.url}"
        lines.append(f"[attachment: {label}{kind}{where}]")
    return lines


def user_text(text: str, attachments: Sequence[Attachment]) -> str:
    """A user turn's text with its attachments listed."""
    return "\n".join([*([text] if text else []), *attachment_lines(attachments)])


async def add_images(
    prompt: list[ChatMessage],
    message: Message,
    context: AgentContext,
    *,
    image_turns: int,
) -> None:
    """Give the latest ``image_turns`` user turns with images (``message`` last in
    ``prompt``, the memory's turns just before it) their images as content parts."""
    turns: list[tuple[int, tuple[Attachment, ...]]] = [(len(prompt) - 1, message.attachments)]
    items = context.memory.messages
    first = len(prompt) - 1 - len(items)
    for offset, item in enumerate(items):
        if item.role == "user" and item.meta:
            turns.append((first + offset, attachments_from_meta(item.meta)))
    turns.sort(key=lambda turn: turn[0], reverse=True)
    shown = 0
    for index, attachments in turns:
        images = [a for a in attachments if a.is_image and not is_omitted(a)]
        if not images or index < 0 or prompt[index].role != "user":
            continue
        if shown >= image_turns:
            break
        shown += 1
        urls = [url for url in [await _model_url(a, context) for a in images] if url]
        if urls:
            old = prompt[index]
            prompt[index] = ChatMessage(
                role="user", content=old.content, name=old.name, images=tuple(urls)
            )


async def _model_url(attachment: Attachment, context: AgentContext) -> str | None:
    try:
        return await context.media.model_url(attachment)
    except (MediaError, OutboundRefusedError) as exc:
        context.logger.warning("image not shown to the model: %s", exc)
        return None


__all__ = [
    "DEFAULT_IMAGE_TURNS",
    "DEFAULT_VISION_MODELS",
    "add_images",
    "attachment_lines",
    "sees_images",
    "user_text",
]
