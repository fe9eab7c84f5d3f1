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
from typing import Any

_log = logging.getLogger("agent_runner.runtime")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals(
    loop: asyncio.AbstractEventLoop, on_signal: Callable[[signal.Signals], None], *, enabled: bool
) -> Iterator[list[signal.Signals]]:
    """Call ``on_signal(sig)`` on SIGTERM/SIGINT while inside the block; yield the installed.

    Nothing is installed when ``enabled`` is false or when not on the main thread; the
    program's previous handlers come back on exit.
    """
    installed: list[signal.Signals] = []
    previous: dict[signal.Signals, Any] = {}
    if enabled and threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            before = signal.getsignal(sig)
            try:
                loop.add_signal_handler(sig, on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError) as exc:
                _log.debug("cannot handle %s here: %r", sig.name, exc)
            else:
                installed.append(sig)
                previous[sig] = before
    try:
        yield installed
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
            if previous[sig] is not None:  # give back what the program had (not SIG_DFL)
                signal.signal(sig, previous[sig])


def graceful_stop(stop: asyncio.Event, hurry: asyncio.Event) -> Callable[[signal.Signals], None]:
    """The signal handler of a runner: the first signal sets ``stop`` (a graceful shutdown),
    a second one ``hurry`` (cut the shutdown grace short)."""

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            _log.warning("received %s again: cutting the shutdown grace short", sig.name)
            hurry.set()
            return
        _log.info("received %s: shutting down (again to skip the grace period)", sig.name)
        stop.set()

    return on_signal


__all__ = ["STOP_SIGNALS", "graceful_stop", "stop_on_signals"]
