"""What the chat connectors (Telegram, Slack) share: reply splitting and streaming edits.

Private to ``connectors``; each platform package renders and sends in its own way.
"""

from connectors._chat.split import FENCE, split_blocks, utf16_size
from connectors._chat.throttle import EditThrottle, LiveReply

__all__ = ["FENCE", "EditThrottle", "LiveReply", "split_blocks", "utf16_size"]
