"""HandlerErrors: what becomes of an error no caller waits for, in the single-threaded runtime.

A published message's handler that raises, or an agent that cannot be created for queued
messages, has no RPC caller to hand the error to: it is logged and, unless
``ignore_unhandled_exceptions``, the first one is kept for the runtime to raise from its next
``process_next``, ``stop`` or ``stop_when_idle``.
"""

from __future__ import annotations

import logging

from agent_runner.core._agent_id import AgentId
from agent_runner.core._backpressure import Backpressure
from agent_runner.core._mailbox import DEACTIVATE, Envelope, Mailbox

logger = logging.getLogger("agent_runner.core")


class HandlerErrors:
    """:meta private: Logs the errors of handlers nobody awaits and keeps the first."""

    __slots__ = ("_ignore", "_kept")

    def __init__(self, *, ignore: bool) -> None:
        self._ignore = ignore
        self._kept: BaseException | None = None

    def event_failed(self, agent_id: AgentId, env: Envelope, error: BaseException) -> None:
        """The handler of a published message raised ``error``."""
        logger.error(
            "Error handling published message %s for %s",
            type(env.message).__name__,
            agent_id,
            exc_info=error,
        )
        if not self._ignore and self._kept is None:
            self._kept = error

    def activation_failed(
        self, first: Envelope, box: Mailbox, error: Exception, backpressure: Backpressure | None
    ) -> None:
        """The agent of ``box`` could not be created: fail ``first`` and every queued message."""
        failed = [first]
        while box.items:
            item = box.items.popleft()
            if item is not DEACTIVATE:
                failed.append(item)
        if backpressure is not None:
            backpressure.dropped(len(failed) - 1)
        for env in failed:
            if env.future is None:
                self.event_failed(box.agent_id, env, error)
            elif not env.future.done():
                env.future.set_exception(error)

    def raise_kept(self) -> None:
        """Raise (once) the first error kept since the last call."""
        error, self._kept = self._kept, None
        if error is not None:
            raise error


__all__ = ["HandlerErrors"]
