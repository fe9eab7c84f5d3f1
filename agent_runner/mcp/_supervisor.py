"""One MCP server's session, kept alive by a supervisor task.

The SDK is built on anyio: its ``Client`` enters task groups and cancel scopes that must be
left by the task that entered them, and a transport failure cancels the task that hosts
them. So one task, the supervisor, owns everything the SDK opens:

* it connects (handshake and first listing within ``connect_timeout``), lists the tools,
  then watches: the end of the server's stream, a call that found the connection closed, a
  ``tools/list_changed`` (a ``subscriptions/listen`` stream on 2026 connections, the
  notification on older ones) and a periodic re-listing (``health_interval``, which also
  finds a dead HTTP server while idle);
* when the session ends, for any reason, it waits ``reconnect.wait(attempt)`` (attempts
  from 1, reset once a session stayed up) and connects again; ``None`` gives the server
  up. A destination refused by the outbound guard is given up at once.

Tool calls run as tasks of a task group inside the session, started by the supervisor's
:meth:`Supervisor.call` on behalf of the caller, who only awaits an asyncio future. A
caller that is cancelled or times out cancels its call's own cancel scope (the SDK sends
the server a cancellation); a session that ends fails every call in flight with
:class:`MCPToolError` (``reason="disconnected"``). No SDK scope is ever entered in the
caller's task, so nothing the SDK does can cancel or crash the caller, and no call waits
longer than its timeout.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agent_runner.backoff import RetryPolicy
from agent_runner.errors import OutboundRefusedError
from agent_runner.mcp._session import PendingCall, Session, timed_out, unavailable
from agent_runner.mcp._transports import Transport

if TYPE_CHECKING:
    import anyio
    from mcp.types import CallToolResult
    from mcp.types import Tool as MCPTool

logger = logging.getLogger("agent_runner.mcp")

STABLE_AFTER = 10.0
"""Seconds a session must stay up for the next loss to count from attempt 1 again."""

_CALL_GRACE = 1.0
"""Seconds a caller waits past the call's own timeout (the SDK's) before giving up itself."""

_CLOSE_WAIT = 15.0
"""Seconds :meth:`Supervisor.close` waits for the SDK's bounded shutdown (a stdio child is
given 2 s after stdin closes, 2 s after SIGTERM, then SIGKILLed)."""


class Supervisor:
    """Keeps one server's session up and runs calls in it (see the module docstring)."""

    def __init__(
        self,
        name: str,
        transport: Transport,
        *,
        connect_timeout: float,
        reconnect: RetryPolicy,
        health_interval: float | None,
    ) -> None:
        self.name = name
        self.transport = transport
        self.connect_timeout = connect_timeout
        self.reconnect = reconnect
        self.health_interval = health_interval
        self.listing: tuple[MCPTool, ...] = ()
        """The server's tools as last listed (kept while reconnecting)."""
        self.version = 0
        """Bumped whenever :attr:`listing` changes."""
        self.last_error: str | None = None
        self.given_up = False
        self.closed = False
        self._session: Session | None = None
        self._task: asyncio.Task[None] | None = None
        self._root: anyio.CancelScope | None = None
        self._attempted = asyncio.Event()
        self._changed = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._session is not None and not self._session.lost

    def start(self) -> None:
        """Start the supervisor task (once; needs a running event loop)."""
        if self._task is None and not self.closed:
            self._task = asyncio.create_task(self._run(), name=f"mcp-supervisor:{self.name}")

    async def wait_first_attempt(self) -> None:
        """Wait until the first connection attempt has ended, one way or the other, or
        ``connect_timeout`` + 1 s (stopping a stdio child that never answered takes longer)."""
        self.start()
        if self._task is not None and not self._attempted.is_set():
            wait = asyncio.ensure_future(self._attempted.wait())
            await asyncio.wait(
                {wait, self._task},
                timeout=self.connect_timeout + _CALL_GRACE,
                return_when=asyncio.FIRST_COMPLETED,
            )
            wait.cancel()

    async def call(
        self, tool: str, arguments: Mapping[str, Any], *, seconds: float
    ) -> CallToolResult:
        """Call ``tool`` within ``seconds`` (waiting for a connection counts).

        Raises:
            MCPToolError: unavailable, disconnected during the call, timed out, or an
                error the SDK raised for the call (the server's JSON-RPC error).
        """
        self.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        session = await self._wait_session(deadline)
        call = PendingCall(loop.create_future(), seconds)
        left = max(deadline - loop.time(), 0.001)  # what waiting for a session left
        try:
            session.start_call(call, tool, dict(arguments), left)
        except RuntimeError:  # the session's task group has just closed
            raise unavailable(self.name, "the connection closed") from None
        try:
            async with asyncio.timeout_at(deadline + _CALL_GRACE):
                return await call.future
        except TimeoutError:
            raise timed_out(self.name, tool, seconds) from None
        finally:
            call.abandon()  # a caller that left stops its call

    async def close(self) -> None:
        """Stop the supervisor: the session closes (a stdio child is killed), calls fail."""
        self.closed = True
        task = self._task
        if task is None:
            return
        if self._root is not None:
            self._root.cancel()
        else:
            task.cancel()
        done, _ = await asyncio.wait({task}, timeout=_CLOSE_WAIT)
        if not done:  # the SDK's shutdown is bounded; this is a last resort
            task.cancel()
            await asyncio.wait({task}, timeout=_CLOSE_WAIT)
        if task.done() and not task.cancelled() and task.exception() is not None:
            logger.warning("MCP server %s: supervisor ended with %r", self.name, task.exception())
        self._notify()

    # -- the supervisor task ---------------------------------------------------------
    async def _run(self) -> None:
        await asyncio.to_thread(_import_sdk)  # seconds on a busy machine: not on the loop
        import anyio

        attempt = 0
        with anyio.CancelScope() as self._root:
            while not self.closed:
                loop = asyncio.get_running_loop()
                up_since: list[float] = []
                try:
                    await self._connect_and_watch(up_since)
                    self.last_error = self.last_error or "the session ended"
                except Exception as exc:  # noqa: BLE001 - every failure leads to a reconnect
                    self.last_error = _describe(exc)
                    if _refused(exc):
                        self._give_up(f"refused by the outbound guard: {self.last_error}")
                        return
                finally:
                    self._session = None
                    self._attempted.set()
                    self._notify()
                if self.closed:
                    return
                if up_since and loop.time() - up_since[0] >= STABLE_AFTER:
                    attempt = 0
                attempt += 1
                error = self.last_error
                delay = self.reconnect.wait(attempt)
                if delay is None:
                    self._give_up(f"{error} (gave up after {attempt} attempts)")
                    return
                logger.warning(
                    "MCP server %s (%s): %s; reconnecting in %.1f s (attempt %d)",
                    self.name,
                    self.transport.describe(),
                    error,
                    delay,
                    attempt,
                )
                await anyio.sleep(delay)

    async def _connect_and_watch(self, up_since: list[float]) -> None:
        import anyio
        from mcp import Client
        from mcp.types import Implementation

        current: list[Session] = []

        def on_end() -> None:  # the read stream ended: the child exited, the server hung up
            if current:
                current[0].lose("the server's stream ended")

        opened = self.transport.open(on_end=on_end)
        with anyio.CancelScope(deadline=anyio.current_time() + self.connect_timeout) as connecting:
            async with Client(
                opened,
                cache=None,
                read_timeout_seconds=self.connect_timeout,
                message_handler=self._on_message,
                client_info=Implementation(name="agent-runner", version=_version()),
            ) as client:
                async with anyio.create_task_group() as calls:
                    session = Session(self.name, client, calls, on_lost=self._lost)
                    current.append(session)
                    self._publish(await session.list_tools())
                    connecting.deadline = math.inf
                    self._session = session
                    self.last_error = None
                    up_since.append(asyncio.get_running_loop().time())
                    self._attempted.set()
                    self._notify()
                    logger.info(
                        "MCP server %s (%s): connected, %d tools",
                        self.name,
                        self.transport.describe(),
                        len(self.listing),
                    )
                    calls.start_soon(session.listen, self.reconnect.backoff)
                    await self._watch(session)
                    calls.cancel_scope.cancel()
        if connecting.cancelled_caught:
            raise TimeoutError(f"no handshake and listing within {self.connect_timeout:g} s")

    async def _watch(self, session: Session) -> None:
        """Until the session is lost: list again on a change notice or every health
        interval (a listing that times out or finds the connection closed loses it)."""
        import anyio
        from mcp import MCPError

        interval = self.health_interval if self.health_interval is not None else math.inf
        while not session.lost:
            with anyio.move_on_after(interval):
                await session.wake.wait()
            session.wake = anyio.Event()
            if session.lost:
                return
            try:
                self._publish(await session.list_tools())
            except MCPError as exc:
                session.lose(f"listing tools failed: {exc.message}")

    # -- state ------------------------------------------------------------------------
    def _publish(self, listing: tuple[MCPTool, ...]) -> None:
        if [t.model_dump() for t in listing] != [t.model_dump() for t in self.listing]:
            self.listing = listing
            self.version += 1
            if self._session is not None:
                logger.info("MCP server %s: tools changed, %d now", self.name, len(listing))

    def _lost(self, session: Session, reason: str) -> None:
        self.last_error = reason
        if self._session is session:
            self._session = None  # new calls wait for the next session
        self._notify()

    def _give_up(self, reason: str) -> None:
        self.given_up = True
        self.last_error = reason
        logger.error(
            "MCP server %s (%s): given up: %s", self.name, self.transport.describe(), reason
        )
        self._notify()

    async def _on_message(self, message: Any) -> None:
        from mcp.types import ToolListChangedNotification

        if isinstance(message, ToolListChangedNotification) and self._session is not None:
            self._session.relist()
        elif isinstance(message, Exception):
            logger.debug("MCP server %s: transport error: %r", self.name, message)

    def _notify(self) -> None:
        """Wake everyone waiting for a change of connection state."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_session(self, deadline: float) -> Session:
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    changed = self._changed
                    if self._session is not None and not self._session.lost:
                        return self._session
                    if self.given_up or self.closed or (self._task and self._task.done()):
                        raise unavailable(self.name, self.last_error or "closed")
                    await changed.wait()
        except TimeoutError:
            raise unavailable(self.name, self.last_error or "still connecting") from None


def _describe(exc: BaseException) -> str:
    """One line for an exception or an exception group (its first leaves)."""
    leaves = list(_leaves(exc))
    text = "; ".join(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__ for e in leaves[:3])
    return text + (f" (and {len(leaves) - 3} more)" if len(leaves) > 3 else "")


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _refused(exc: BaseException) -> bool:
    return any(isinstance(leaf, OutboundRefusedError) for leaf in _leaves(exc))


def _import_sdk() -> None:
    """Import the SDK's client modules (run in a thread, once)."""
    import mcp.client.stdio
    import mcp.client.streamable_http  # noqa: F401


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("agent-runner")
    except PackageNotFoundError:
        return "0"


__all__ = ["STABLE_AFTER", "Supervisor"]
