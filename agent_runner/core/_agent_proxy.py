"""AgentProxy: use an AgentId as if it were the agent."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

from agent_runner.core._agent_id import AgentId
from agent_runner.core._agent_metadata import AgentMetadata
from agent_runner.core._cancellation_token import CancellationToken

if TYPE_CHECKING:
    from agent_runner.core._message_runtime import MessageRuntime


class AgentProxy:
    """A handle on an agent through its runtime: send it messages, read or set its state.

    Example::

        worker = AgentProxy(AgentId("worker", "default"), runtime)
        reply = await worker.send_message(Work("x"), sender=AgentId("boss", "default"))
    """

    def __init__(self, agent: AgentId, runtime: MessageRuntime) -> None:
        self._agent = agent
        self._runtime = runtime

    @property
    def id(self) -> AgentId:
        """The target agent."""
        return self._agent

    @property
    def metadata(self) -> Awaitable[AgentMetadata]:
        """The agent's metadata (await it)."""
        return self._runtime.agent_metadata(self._agent)

    async def send_message(
        self,
        message: Any,
        *,
        sender: AgentId,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
    ) -> Any:
        """Send an RPC to the agent and return its reply."""
        return await self._runtime.send_message(
            message,
            recipient=self._agent,
            sender=sender,
            cancellation_token=cancellation_token,
            message_id=message_id,
        )

    async def save_state(self) -> Mapping[str, Any]:
        """The agent's state."""
        return await self._runtime.agent_save_state(self._agent)

    async def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore the agent's state."""
        await self._runtime.agent_load_state(self._agent, state)


__all__ = ["AgentProxy"]
