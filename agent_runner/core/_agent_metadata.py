"""AgentMetadata: what a runtime reports about an agent."""

from __future__ import annotations

from typing import TypedDict


class AgentMetadata(TypedDict):
    """Type, key and description of an agent (a plain dict at run time)."""

    type: str
    key: str
    description: str


__all__ = ["AgentMetadata"]
