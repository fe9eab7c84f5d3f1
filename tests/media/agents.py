"""Agents the media tests share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from agent_runner import AgentContext, File, Message, Reply

STREAMED_TEXT = "Here is your chart."
"""What :func:`streaming_chart`'s agent streams, word by word, then answers whole."""


def streaming_chart(chart: bytes) -> Callable[[Message, AgentContext], Awaitable[Reply]]:
    """An agent that streams :data:`STREAMED_TEXT`, then replies with it and ``chart.png``."""

    async def draw(message: Message, context: AgentContext) -> Reply:
        for word in STREAMED_TEXT.split(" "):
            await context.stream(word if word.endswith(".") else word + " ")
        return Reply(text=STREAMED_TEXT, files=(File(name="chart.png", data=chart),))

    return draw
