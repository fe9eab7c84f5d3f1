"""Mailroom: the mailboxes of the single-threaded runtime and the tasks that drain them.

Each busy agent has a :class:`Mailbox` and one task draining it, one turn at a time; the task
exits (and the mailbox goes away) when the agent has no more work, so an idle agent costs
nothing but its instance. The drain loop is the runtime's hot path: the common case (no
tracing, actor turns) is inlined and does no per-message bookkeeping beyond the handler frame.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import Context
from types import CoroutineType
from typing import Any

from agent_runner.core._agent_directory import AgentDirectory
from agent_runner.core._agent_id import AgentId
from agent_runner.core._agent_protocol import Agent
from agent_runner.core._backpressure import Backpressure
from agent_runner.core._handler_errors import HandlerErrors
from agent_runner.core._handler_lookup import Handler, class_traits, handler_of
from agent_runner.core._handler_tasks import HandlerTasks
from agent_runner.core._mailbox import DEACTIVATE, Envelope, Mailbox, stopped_error
from agent_runner.core._message_gate import MessageGate
from agent_runner.core._message_handler_context import ACTIVE, CURRENT_FRAME, new_frame
from agent_runner.core._routed_agent import DirectRoute, RoutedAgent
from agent_runner.core._telemetry import RuntimeTracer

logger = logging.getLogger("agent_runner.core")


def _task_cancelled() -> bool:
    """Whether the current task is being cancelled (not just a handler raising CancelledError)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class Mailroom:
    """:meta private: Queues messages per agent and runs their turns.

    Args:
        directory: Creates, reactivates and deactivates the agents.
        gate: Intervention handlers and strict serialization, applied to replies.
        tracer: Makes a ``process`` span per turn when given.
        backpressure: Counts queued messages when ``max_queued_messages`` is set.
        ignore_unhandled_exceptions: When False, the first exception of an event handler is
            kept for ``errors.raise_kept()``.
    """

    def __init__(
        self,
        directory: AgentDirectory,
        gate: MessageGate,
        tracer: RuntimeTracer | None,
        backpressure: Backpressure | None,
        *,
        ignore_unhandled_exceptions: bool,
    ) -> None:
        self._directory = directory
        self._agents = directory.agents
        self._gate = gate
        self._gated = gate.active
        self._tracer = tracer
        self._backpressure = backpressure
        self.errors = HandlerErrors(ignore=ignore_unhandled_exceptions)
        self._mailboxes: dict[AgentId, Mailbox] = {}
        self._handler_tasks = HandlerTasks(self._handler_done)
        self._idle_waiters: list[asyncio.Future[None]] = []

    # ------------------------------------------------------------------ queueing

    @property
    def queued_count(self) -> int:
        """Messages in mailboxes whose turn has not begun."""
        return sum(len(box.items) for box in self._mailboxes.values())

    def enqueue(self, agent_id: AgentId, env: Envelope) -> None:
        """Queue ``env`` for ``agent_id`` (its turn comes after those already queued)."""
        box = self._mailboxes.get(agent_id)
        if box is None:
            self._open_mailbox(agent_id, env)
        else:
            box.items.append(env)
        if self._backpressure is not None:
            self._backpressure.queued += 1

    def fan_out(self, env: Envelope, recipients: Sequence[AgentId], sender: AgentId | None) -> None:
        """Queue one published ``env`` for each of ``recipients`` but its ``sender``."""
        if sender is not None and sender in recipients:
            recipients = tuple(a for a in recipients if a != sender)
        mailboxes = self._mailboxes
        for agent_id in recipients:
            box = mailboxes.get(agent_id)
            if box is None:
                self._open_mailbox(agent_id, env)
            else:
                box.items.append(env)
        if self._backpressure is not None:
            self._backpressure.queued += len(recipients)

    def _open_mailbox(self, agent_id: AgentId, first: Envelope) -> None:
        box = Mailbox(agent_id, first)
        self._mailboxes[agent_id] = box
        # A fresh context: the drain serves many senders and must not inherit the first
        # one's context variables (its handler frame, its tracing span, ...).
        box.task = asyncio.get_running_loop().create_task(self._drain(box), context=Context())

    # ------------------------------------------------------------------ turns

    async def _drain(self, box: Mailbox) -> None:
        """Handle ``box``'s messages one by one, then remove it."""
        agent_id = box.agent_id
        items = box.items
        directory = self._directory
        set_frame = CURRENT_FRAME.set
        agent: Agent | None = None
        handler: Handler | None = None
        direct: DirectRoute | None = None
        direct_fn: Callable[..., Awaitable[Any]] | None = None
        check: Callable[[Any], None] | None = None
        direct_type: type | None = None
        direct_rpc = False
        routed: type[RoutedAgent] | None = None
        inline = concurrent = False
        # The handler frame (see _message_handler_context). Turns that no call chain waits
        # on (publishes, calls from outside) share one frame per drain run, re-marked active
        # for each turn: a ContextVar.set per delivery would cost as much as the rest of it.
        frame: list[Any] | None = None
        root_frame: list[Any] | None = None
        backpressure = self._backpressure
        linger = True
        try:
            if items[0] is DEACTIVATE:  # only ever first: sweeps post it to idle agents
                items.popleft()
                if not items:
                    await directory.deactivate(agent_id)
            while True:
                while items:
                    item = items.popleft()
                    if backpressure is not None:
                        backpressure.taken()
                    if handler is None:
                        agent = self._agents.get(agent_id)
                        if agent is None:
                            linger = False
                            try:
                                made = directory.activate(agent_id)
                                agent = await made if isinstance(made, CoroutineType) else made
                            except Exception as e:
                                self.errors.activation_failed(item, box, e, backpressure)
                                return
                            except asyncio.CancelledError:  # stopping: the caller must know
                                if item.future is not None and not item.future.done():
                                    item.future.set_exception(stopped_error())
                                raise
                            if directory.max_active_agents is not None:
                                if directory.over_capacity():
                                    self.sweep()
                        handler = handler_of(agent)
                        routed, concurrent = class_traits(type(agent))
                        direct_type = direct_fn = check = None
                        inline = not concurrent and self._tracer is None
                    future = item.future
                    if future is not None and future.done():
                        continue  # the caller gave up before the turn began
                    if concurrent:  # start it and go on with the next message
                        self._handler_tasks.start(agent_id, self._deliver(handler, agent_id, item))
                        continue
                    if not inline:  # traced
                        await self._deliver(handler, agent_id, item)
                        continue
                    # The hot path: one turn, inline.
                    message = item.message
                    call: Awaitable[Any]
                    if routed is not None:
                        if message.__class__ is not direct_type or item.is_rpc is not direct_rpc:
                            direct_type = message.__class__
                            direct_rpc = item.is_rpc
                            direct = routed.direct_handler(direct_type, direct_rpc)
                            if direct is None:
                                direct_fn, check = None, None
                            else:
                                direct_fn, check = direct
                        if direct_fn is not None:
                            call = direct_fn(agent, message, item)
                        else:
                            call = handler(message, item)
                    else:
                        call = handler(message, item)
                    parent = item.parent
                    if parent is None:  # nobody in a call chain waits on this turn
                        if frame is not root_frame or frame is None:
                            if frame is not None:
                                frame[2] = False
                            if root_frame is None:
                                root_frame = [agent_id, None, True]
                            frame = root_frame
                            frame[2] = True
                            set_frame(frame)
                    else:
                        if frame is not None:
                            frame[2] = False
                        frame = [agent_id, parent, True]
                        set_frame(frame)
                    if future is None:  # a published message
                        try:
                            result = await call
                            if check is not None:
                                check(result)
                        except asyncio.CancelledError:
                            if _task_cancelled():
                                raise
                        except Exception as e:
                            self.errors.event_failed(agent_id, item, e)
                    else:
                        try:
                            result = await call
                            if check is not None:
                                check(result)
                            if self._gated:
                                result = await self._gate.on_response(result, agent_id, item.sender)
                        except asyncio.CancelledError:
                            if _task_cancelled():
                                if not future.done():
                                    future.set_exception(stopped_error())
                                raise
                            future.cancel()
                        except Exception as e:
                            if not future.done():
                                future.set_exception(e)
                        else:
                            if not future.done():
                                future.set_result(result)
                    # The frame stays active until the next turn takes over (nothing runs in
                    # between) or the loop waits below.
                if frame is not None:
                    frame[2] = False
                    frame = None
                # Linger one loop pass (a caller awaiting our reply often sends again), unless
                # this drain created the agent: a new key, as when work fans out over keys.
                if not linger:
                    break
                await asyncio.sleep(0)
                if not items:
                    break
        finally:
            if self._mailboxes.get(agent_id) is box:
                del self._mailboxes[agent_id]
            self._went_idle(agent_id)

    def _went_idle(self, agent_id: AgentId) -> None:
        """``agent_id``'s mailbox is gone: it may be deactivated from now on."""
        directory = self._directory
        if directory.tracks_idle and not self._handler_tasks.running(agent_id):
            directory.mark_idle(agent_id)
            if directory.over_capacity():
                self.sweep()
        if self._idle_waiters and self.is_idle():
            self._wake_idle()

    # ------------------------------------------------------------------ claimed turns

    def claim(self, agent_id: AgentId) -> Agent | None:
        """The live agent ``agent_id`` with its next turn taken by the calling task, or None
        when it is not live or has messages queued. Until :meth:`release`, it is busy (never
        deactivated), messages to it wait, and the task's handler frame is the agent's."""
        agent = self._agents.get(agent_id)
        if agent is None or agent_id in self._mailboxes:
            return None
        self._mailboxes[agent_id] = Mailbox(agent_id, None)
        CURRENT_FRAME.set(new_frame(agent_id, None))
        return agent

    def release(self, agent_id: AgentId) -> None:
        """End the turn :meth:`claim` took: what was sent to the agent meanwhile is drained
        as usual."""
        frame = CURRENT_FRAME.get()
        if frame is not None:
            frame[ACTIVE] = False
        box = self._mailboxes.get(agent_id)
        if box is None or box.task is not None:  # the runtime stopped meanwhile
            return
        if box.items:
            box.task = asyncio.get_running_loop().create_task(self._drain(box), context=Context())
            return
        del self._mailboxes[agent_id]
        self._went_idle(agent_id)

    def _handler_done(self, last_of: AgentId | None) -> None:
        """A concurrent handler ended (``last_of``: its agent, when it has no other running)."""
        if last_of is not None and self._directory.tracks_idle and last_of not in self._mailboxes:
            self._directory.mark_idle(last_of)
        if self._idle_waiters and self.is_idle():
            self._wake_idle()

    async def _deliver(self, handler: Handler, agent_id: AgentId, env: Envelope) -> None:
        """Run one message's handler and settle its reply (traced or concurrent handling)."""
        future = env.future
        if future is not None and future.done():
            return  # the caller gave up before the turn began
        frame = new_frame(agent_id, env.parent)
        CURRENT_FRAME.set(frame)
        try:
            if self._tracer is not None:
                with self._tracer.span("process", agent_id, parent=env.trace):
                    result = await handler(env.message, env)
            else:
                result = await handler(env.message, env)
            if future is not None and self._gated:
                result = await self._gate.on_response(result, agent_id, env.sender)
        except asyncio.CancelledError:
            if _task_cancelled():
                if future is not None and not future.done():
                    future.set_exception(stopped_error())
                raise
            if future is not None:
                future.cancel()
        except Exception as e:
            if future is None:
                self.errors.event_failed(agent_id, env, e)
            elif not future.done():
                future.set_exception(e)
        else:
            if future is not None and not future.done():
                future.set_result(result)
        finally:
            frame[ACTIVE] = False

    async def call_inline(self, agent_id: AgentId, env: Envelope) -> Any:
        """Run a reentrant call (its recipient waits in the caller's chain) in this task."""
        agent = await self._directory.get(agent_id)
        frame = new_frame(agent_id, env.parent)
        reset = CURRENT_FRAME.set(frame)
        try:
            result = await agent.on_message(env.message, env)
        except asyncio.CancelledError:
            env.cancellation_token.cancel()
            raise
        finally:
            frame[ACTIVE] = False
            CURRENT_FRAME.reset(reset)
        if self._gated:
            result = await self._gate.on_response(result, agent_id, env.sender)
        return result

    # ------------------------------------------------------------------ deactivation

    def is_busy(self, agent_id: AgentId) -> bool:
        """Whether the agent has queued messages or running handlers (never deactivate it)."""
        return agent_id in self._mailboxes or self._handler_tasks.running(agent_id)

    def sweep(self) -> None:
        """Ask the idle agents the directory picks to deactivate (in their own turn)."""
        for agent_id in self._directory.pick_victims(self.is_busy, time.monotonic()):
            self._open_mailbox(agent_id, DEACTIVATE)

    # ------------------------------------------------------------------ idle and stop

    def is_idle(self) -> bool:
        return not self._mailboxes and not self._handler_tasks

    async def wait_idle(self) -> None:
        """Return once no message is queued or being handled."""
        while not self.is_idle():
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(waiter)
            await waiter

    def _wake_idle(self) -> None:
        waiters, self._idle_waiters = self._idle_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def cancel_all(self) -> list[asyncio.Task[Any]]:
        """Fail every queued RPC, cancel drain and handler tasks (except the current one) and
        return them to be awaited."""
        current = asyncio.current_task()
        tasks: list[asyncio.Task[Any]] = []
        for box in list(self._mailboxes.values()):
            for item in box.items:
                if item.future is not None and not item.future.done():
                    item.future.set_exception(stopped_error())
            box.items.clear()
            if box.task is not None and box.task is not current:
                box.task.cancel()
                tasks.append(box.task)
                del self._mailboxes[box.agent_id]
        tasks += self._handler_tasks.cancel()
        if self._backpressure is not None:
            self._backpressure.clear()
        self._wake_idle()
        return tasks


__all__ = ["Mailroom"]
