"""What the chat connectors (Telegram, Slack) share: splitting, streaming edits, typing.

Private to ``connectors``; each platform package renders and sends in its own way.
"""

from connectors._chat.live import LiveReplies
from connectors._chat.split import FENCE, fenced_sections, split_blocks, utf16_size
from connectors._chat.throttle import EditThrottle, LiveReply
from connectors._chat.typing import TypingIndicators

__all__ = [
    "FENCE",
    "EditThrottle",
    "LiveReplies",
    "LiveReply",
    "TypingIndicators",
    "fenced_sections",
    "split_blocks",
    "utf16_size",
]
