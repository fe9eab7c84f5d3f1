"""SIGTERM/SIGINT -> a graceful stop, installed only where asyncio allows it.

``loop.add_signal_handler`` works only on the main thread of a Unix event loop; elsewhere
(a runner in a worker thread, Windows) the runner relies on :meth:`AgentRuntime.stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator

_log = logging.getLogger("agent_runner.runtime")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals(
    loop: asyncio.AbstractEventLoop, on_signal: Callable[[signal.Signals], None], *, enabled: bool
) -> Iterator[list[signal.Signals]]:
    """Call ``on_signal(sig)`` on SIGTERM/SIGINT while inside the block; yield the installed.

    Nothing is installed when ``enabled`` is false or when not on the main thread; the
    previous handlers come back on exit.
    """
    installed: list[signal.Signals] = []
    if enabled and threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            try:
                loop.add_signal_handler(sig, on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError) as exc:
                _log.debug("cannot handle %s here: %r", sig.name, exc)
            else:
                installed.append(sig)
    try:
        yield installed
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


__all__ = ["STOP_SIGNALS", "stop_on_signals"]
