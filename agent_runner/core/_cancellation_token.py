"""CancellationToken: cancel pending asynchronous calls, cooperatively."""

from __future__ import annotations

import logging
from asyncio import Future
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class CancellationToken:
    """A token that cancels the calls and futures linked to it.

    A runtime gives every message handler one in ``ctx.cancellation_token``; it is cancelled
    when the caller cancels its own token or the caller's awaiting task is cancelled.
    Handlers check :meth:`is_cancelled`, register callbacks, or link their own futures.
    Use it from the event loop's thread.

    Example::

        token = CancellationToken()
        call = runtime.send_message(Work(), worker, cancellation_token=token)
        reply = asyncio.ensure_future(call)
        token.cancel()  # the caller gets CancelledError; the handler sees its token cancelled
    """

    __slots__ = ("_callbacks", "_cancelled")

    def __init__(self) -> None:
        self._cancelled = False
        self._callbacks: list[Callable[[], object]] | None = None

    def cancel(self) -> None:
        """Cancel: run every callback once (later callbacks run at once when added)."""
        if self._cancelled:
            return
        self._cancelled = True
        callbacks = self._callbacks
        self._callbacks = None
        if callbacks:
            for callback in callbacks:
                try:
                    callback()
                except Exception:
                    logger.exception("cancellation callback %r failed", callback)

    def is_cancelled(self) -> bool:
        """Whether :meth:`cancel` has been called."""
        return self._cancelled

    def add_callback(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on cancellation (at once if already cancelled)."""
        if self._cancelled:
            callback()
            return
        if self._callbacks is None:
            self._callbacks = [callback]
        else:
            self._callbacks.append(callback)

    def remove_callback(self, callback: Callable[[], object]) -> None:
        """Forget a callback added earlier (no error when it is not there)."""
        callbacks = self._callbacks
        if callbacks:
            try:
                callbacks.remove(callback)
            except ValueError:
                pass

    def link_future(self, future: Future[Any]) -> Future[Any]:
        """Cancel ``future`` when this token is cancelled (at once if it already is)."""
        if self._cancelled:
            future.cancel()
        elif self._callbacks is None:
            self._callbacks = [future.cancel]
        else:
            self._callbacks.append(future.cancel)
        return future

    def __repr__(self) -> str:
        return f"CancellationToken(cancelled={self._cancelled})"


__all__ = ["CancellationToken"]
