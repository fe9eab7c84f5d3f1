"""Errors of the distributed runtime, and rebuilding a remote handler's exception.

::

    CoreError
    ├── SerializationError
    │   └── PayloadTooLargeError   a payload is over ``max_payload_bytes``
    └── RemoteError                the remote handler raised (type, message, recipient)

A handler's exception travels as ``{"type", "module", "message"}``. The caller raises a
:class:`RemoteError`; when the remote type is a built-in exception or one of agent-runner's
own errors, the raised class also derives from it, so ``except ValueError`` and
``except CantHandleException`` work the same on both runtimes.
"""

from __future__ import annotations

import builtins
import importlib
from functools import lru_cache

from agent_runner.errors import CoreError, SerializationError


class PayloadTooLargeError(SerializationError):
    """A payload is larger than the runtime's ``max_payload_bytes``."""


class RemoteError(CoreError):
    """The remote handler raised.

    Attributes:
        remote_type: the exception's class name on the handling side (``"ValueError"``).
        remote_module: its module (``"builtins"``), empty for non-Python workers.
        remote_message: ``str(exception)`` on the handling side.
        recipient: the agent id (``"type/key"``) that handled the message.
        worker: the id of the worker that handled it.
    """

    def __init__(
        self,
        message: str,
        *,
        remote_type: str = "",
        remote_module: str = "",
        remote_message: str = "",
        recipient: str = "",
        worker: str = "",
    ) -> None:
        super().__init__(message)
        self.remote_type = remote_type
        self.remote_module = remote_module
        self.remote_message = remote_message
        self.recipient = recipient
        self.worker = worker


@lru_cache(maxsize=256)
def _remote_class(module: str, name: str) -> type[RemoteError]:
    base: object = None
    if module == "builtins":
        base = getattr(builtins, name, None)
    elif module == "agent_runner" or module.startswith("agent_runner."):
        try:
            base = getattr(importlib.import_module(module), name, None)
        except ImportError:
            base = None
    if not isinstance(base, type) or not issubclass(base, Exception) or base is Exception:
        return RemoteError
    if issubclass(base, RemoteError):
        return base
    try:
        return type(f"Remote{name}", (RemoteError, base), {"__module__": __name__})
    except TypeError:  # incompatible layouts
        return RemoteError


def remote_exception(
    *, remote_type: str, remote_module: str, remote_message: str, recipient: str, worker: str
) -> RemoteError:
    """The exception a caller raises for an error reply."""
    cls = _remote_class(remote_module, remote_type)
    text = f"{remote_type}: {remote_message} (raised by {recipient} on worker {worker})"
    try:
        exc = cls(
            text,
            remote_type=remote_type,
            remote_module=remote_module,
            remote_message=remote_message,
            recipient=recipient,
            worker=worker,
        )
    except TypeError:
        exc = RemoteError(
            text,
            remote_type=remote_type,
            remote_module=remote_module,
            remote_message=remote_message,
            recipient=recipient,
            worker=worker,
        )
    return exc
