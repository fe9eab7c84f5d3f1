"""One live MCP session inside the supervisor task: its calls, listings and change notices.

A :class:`Session` exists while the supervisor's ``Client`` is connected. Everything here
runs in tasks of the session's task group, under the supervisor task; callers in other tasks
only ever hold a :class:`PendingCall` (an asyncio future and the cancel scope of the task
that runs the call).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent_runner.errors import MCPToolError

if TYPE_CHECKING:
    import anyio
    from anyio.abc import TaskGroup
    from mcp import Client
    from mcp.types import CallToolResult
    from mcp.types import Tool as MCPTool

logger = logging.getLogger("agent_runner.mcp")

LIST_PAGES = 100
"""Most ``tools/list`` pages read (a server whose cursor never ends cannot hang us)."""


@dataclass(eq=False)
class PendingCall:
    """One call in flight: the caller's future, the call's timeout as the caller gave it,
    and the cancel scope of the task running it."""

    future: asyncio.Future[CallToolResult]
    timeout: float
    scope: anyio.CancelScope | None = None

    def settle(self, result: CallToolResult | None, error: MCPToolError | None = None) -> None:
        if self.future.done():  # the caller left (cancelled, timed out): nobody reads it
            return
        if error is not None:
            self.future.set_exception(error)
        else:
            assert result is not None
            self.future.set_result(result)

    def abandon(self) -> None:
        """The caller left: stop the call (the SDK tells the server); no-op once it ended."""
        if self.scope is not None:
            self.scope.cancel()


class Session:
    """A connected ``Client`` and the task group its calls run in.

    Args:
        name: the server's name, for messages.
        client: the SDK client, entered by the supervisor task.
        calls: a task group of the supervisor task, inside the client's context.
        on_lost: called once with a reason when a call or a listing finds the connection
            gone (the supervisor reconnects).
    """

    def __init__(
        self,
        name: str,
        client: Client,
        calls: TaskGroup,
        *,
        on_lost: Callable[[Session, str], None],
    ) -> None:
        import anyio

        self.name = name
        self.client = client
        self.calls = calls
        self.lost = False
        self.wake = anyio.Event()
        """Set to wake the supervisor's watch loop (a change notice, a loss)."""
        self._on_lost = on_lost

    def lose(self, reason: str) -> None:
        if not self.lost:
            self.lost = True
            self.wake.set()
            self._on_lost(self, reason)

    def relist(self) -> None:
        """Ask the watch loop to list the tools again."""
        self.wake.set()

    def start_call(
        self, call: PendingCall, tool: str, arguments: dict[str, Any], seconds: float
    ) -> None:
        """Run the call in the session's task group, ``seconds`` at most.

        Raises:
            RuntimeError: the task group has closed (the session just ended).
        """
        self.calls.start_soon(self._run_call, call, tool, arguments, seconds)

    async def _run_call(
        self, call: PendingCall, tool: str, arguments: dict[str, Any], seconds: float
    ) -> None:
        import anyio
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED, INVALID_REQUEST, REQUEST_TIMEOUT

        error: MCPToolError | None = None
        try:
            with anyio.CancelScope() as call.scope:
                if call.future.done():
                    return  # the caller left before the call started
                try:
                    result = await self.client.call_tool(
                        tool, arguments, read_timeout_seconds=seconds
                    )
                except MCPError as exc:
                    if exc.code == REQUEST_TIMEOUT:
                        error = timed_out(self.name, tool, call.timeout)
                    elif exc.code == CONNECTION_CLOSED or (
                        exc.code == INVALID_REQUEST and "terminated" in exc.message.lower()
                    ):  # the server went away, or restarted and forgot our HTTP session
                        self.lose(f"the connection closed during a call ({exc.message})")
                        error = disconnected(self.name, tool)
                    else:
                        error = MCPToolError(f"{tool}: {exc.message}", reason="error")
                except Exception as exc:  # noqa: BLE001 - a malformed result, a validation error
                    error = MCPToolError(f"{tool}: {type(exc).__name__}: {exc}", reason="error")
                else:
                    call.settle(result)
                    return
                call.settle(None, error)
        finally:
            call.settle(None, disconnected(self.name, tool))  # cancelled with the session

    async def list_tools(self) -> tuple[MCPTool, ...]:
        """Every page of ``tools/list`` (at most :data:`LIST_PAGES`)."""
        tools: list[MCPTool] = []
        cursor: str | None = None
        for _ in range(LIST_PAGES):
            page = await self.client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return tuple(tools)

    async def listen(self, backoff: Callable[[int], float]) -> None:
        """Follow ``tools/list_changed`` on a 2026 connection (``subscriptions/listen``),
        listening again after a drop (``backoff(drops)`` seconds later); older servers send
        the notification unasked (the supervisor's message handler)."""
        import anyio
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS

        if self.client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            return
        drops = 0
        while not self.lost:  # until the session ends (its task group is cancelled)
            acked = False
            try:
                async with self.client.listen(tools_list_changed=True) as subscription:
                    honored = subscription.honored
                    if honored is None or not honored.tools_list_changed:
                        return  # not offered: the health interval's listings see changes
                    acked, drops = True, 0
                    async for _event in subscription:
                        self.relist()
            except Exception as exc:  # noqa: BLE001 - listening is best effort
                logger.debug("MCP server %s: listen ended: %r", self.name, exc)
                if not acked:
                    return
            drops += 1
            self.relist()  # no replay after a drop: list again
            await anyio.sleep(backoff(drops))


# -- what the model reads ------------------------------------------------------------------
def unavailable(name: str, why: str) -> MCPToolError:
    return MCPToolError(
        f"the MCP server {name!r} is not available ({why}); try again later",
        reason="unavailable",
    )


def disconnected(name: str, tool: str) -> MCPToolError:
    return MCPToolError(
        f"{tool}: the connection to the MCP server {name!r} was lost during the call; "
        "it is reconnecting, and the call may or may not have taken effect",
        reason="disconnected",
    )


def timed_out(name: str, tool: str, seconds: float) -> MCPToolError:
    return MCPToolError(
        f"{tool}: the MCP server {name!r} did not answer within {seconds:g} s", reason="timeout"
    )


__all__ = ["LIST_PAGES", "PendingCall", "Session", "disconnected", "timed_out", "unavailable"]
