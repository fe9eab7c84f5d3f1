"""DefaultTopicId: a TopicId whose source defaults to the current agent's key."""

from __future__ import annotations

from agent_runner.core._message_handler_context import MessageHandlerContext
from agent_runner.core._topic import TopicId


class DefaultTopicId(TopicId):
    """A :class:`TopicId` with sensible defaults.

    Args:
        type: Topic type; ``"default"`` by default.
        source: Topic source. When None: the key of the agent whose handler is running, or
            ``"default"`` outside a handler.

    Example::

        await runtime.publish_message(Hello(), DefaultTopicId())  # TopicId("default", "default")
    """

    __slots__ = ()

    def __init__(self, type: str = "default", source: str | None = None) -> None:
        if source is None:
            try:
                source = MessageHandlerContext.agent_id().key
            except RuntimeError:
                source = "default"
        super().__init__(type, source)


__all__ = ["DefaultTopicId"]
