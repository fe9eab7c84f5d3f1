"""The core message runtime (autogen-core's API). Placeholder until the core lands."""

from typing import Protocol


class MessageRuntime(Protocol):
    """The protocol both runtimes satisfy."""


__all__ = ["MessageRuntime"]
