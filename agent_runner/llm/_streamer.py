"""Streaming a model's text to the output while the agent runs."""

from __future__ import annotations

from agent_runner.agent import AgentContext


class Streamer:
    """Forwards text to ``context.stream``; a failing output stops streaming, not the agent
    (the runner still delivers the whole reply with ``send``)."""

    def __init__(self, context: AgentContext) -> None:
        self._context = context
        self.enabled = True

    async def send(self, chunk: str) -> None:
        if not self.enabled:
            return
        try:
            await self._context.stream(chunk)
        except Exception as exc:  # an output's failure must not lose the answer
            self.enabled = False
            self._context.logger.warning("streaming stopped: %r", exc)


__all__ = ["Streamer"]
