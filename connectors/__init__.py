"""Connectors: one module per platform, each an AgentInput, an AgentOutput or both.

Platform SDKs are optional extras, imported only when their connector module is imported:
``connectors.discord`` needs ``agent-runner[discord]``, ``connectors.x`` needs
``agent-runner[x]``. This package imports none of them.
"""

__all__: list[str] = []
