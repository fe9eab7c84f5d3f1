"""Ending the background loops of a distributed runtime (replies, heartbeat, reading).

Each loop checks a flag between blocking reads of at most ``block`` seconds; to stop one, set
its flag, wake it (a ``wake`` entry on the stream it blocks on) and wait for it with
:func:`end_loop`, which cancels it only if it does not end in time.
"""

from __future__ import annotations

import asyncio
import logging

logger = logging.getLogger(__name__)


async def end_loop(task: asyncio.Task[None], grace: float) -> None:
    """Wait up to ``grace`` seconds for ``task`` to end, then cancel it; log its error."""
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=2.0)
    if task.done() and not task.cancelled() and task.exception() is not None:
        logger.error("%s ended with %r", task.get_name(), task.exception())


__all__ = ["end_loop"]
