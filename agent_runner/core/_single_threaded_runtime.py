"""SingleThreadedAgentRuntime: the in-process message runtime, with actor turns."""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from agent_runner.core._agent import Agent
from agent_runner.core._agent_directory import AgentDirectory
from agent_runner.core._agent_id import AgentId
from agent_runner.core._agent_metadata import AgentMetadata
from agent_runner.core._agent_type import AgentType
from agent_runner.core._base_agent import BaseAgent
from agent_runner.core._cancellation_token import CancellationToken
from agent_runner.core._intervention import DropMessage, InterventionHandler
from agent_runner.core._mailbox import DEACTIVATE, NO_AGENT, Envelope, Mailbox
from agent_runner.core._message_handler_context import (
    CURRENT_FRAME,
    Frame,
    chain_contains,
)
from agent_runner.core._serialization import (
    MessageSerializer,
    SerializationRegistry,
    type_name,
)
from agent_runner.core._subscription import Subscription
from agent_runner.core._subscription_manager import SubscriptionManager
from agent_runner.core._telemetry import RuntimeTracer
from agent_runner.core._topic import TopicId
from agent_runner.errors import (
    MessageDroppedException,
    RuntimeStoppedError,
    SerializationError,
    UndeliverableException,
)

logger = logging.getLogger("agent_runner.core")

T = TypeVar("T", bound=Agent)

_Handler = Callable[[Any, Any], Awaitable[Any]]


def _warn_if_none(value: Any, handler_name: str) -> None:
    if value is None:
        warnings.warn(
            f"Intervention handler {handler_name} returned None. Return the message or "
            "DropMessage explicitly.",
            RuntimeWarning,
            stacklevel=3,
        )


def _task_cancelled() -> bool:
    """Whether the current task is being cancelled (not just a handler raising CancelledError)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _handler_of(agent: Agent) -> _Handler:
    # BaseAgent.on_message is final and only calls on_message_impl: skip one frame.
    if isinstance(agent, BaseAgent):
        return agent.on_message_impl
    return agent.on_message


class SingleThreadedAgentRuntime:
    """The in-process :class:`MessageRuntime`: every agent lives in this event loop.

    Each agent instance handles one message at a time, in arrival order (an actor turn).
    A call chain that comes back to an agent waiting in it (A asks B, B asks A, or A asks
    itself) runs at once instead of deadlocking. Classes with ``concurrent_handling = True``
    handle their messages concurrently. Messages wait in a per-agent mailbox that exists only
    while the agent has work.

    Args:
        intervention_handlers: Handlers that see, change or drop every send, publish and
            reply.
        tracer_provider: An OpenTelemetry ``TracerProvider``; spans are made only when given.
        ignore_unhandled_exceptions: When False, the first exception raised by an event
            handler is re-raised by the next :meth:`process_next` or by :meth:`stop` /
            :meth:`stop_when_idle`. RPC handler exceptions always go to the caller.
        idle_timeout: Deactivate agents idle for this many seconds: their state is saved
            (``save_state``) and kept by the runtime, the object is released and ``close()``
            is called; the next message recreates it and calls ``load_state``.
        max_active_agents: Keep at most this many agents alive, deactivating the least
            recently used idle ones beyond it.
        max_queued_messages: Bound on messages waiting in mailboxes: senders outside agent
            handlers wait for room instead of growing memory (handlers are never blocked,
            which could deadlock an agent waiting on its own mailbox).
        strict_serialization: Fail a send or publish (and an RPC reply) whose type has no
            registered serializer with :class:`~agent_runner.errors.SerializationError`, so
            code that runs here also runs on the distributed runtime.

    Example::

        runtime = SingleThreadedAgentRuntime()
        await Worker.register(runtime, "worker", Worker)
        runtime.start()
        reply = await runtime.send_message(WorkRequest("t1", "data"), AgentId("worker", "default"))
        await runtime.stop_when_idle()
        await runtime.close()
    """

    def __init__(
        self,
        intervention_handlers: list[InterventionHandler] | None = None,
        tracer_provider: Any = None,
        ignore_unhandled_exceptions: bool = True,
        *,
        idle_timeout: float | None = None,
        max_active_agents: int | None = None,
        max_queued_messages: int | None = None,
        strict_serialization: bool = False,
    ) -> None:
        if max_queued_messages is not None and max_queued_messages < 1:
            raise ValueError("max_queued_messages must be at least 1")
        self._directory = AgentDirectory(
            self, idle_timeout=idle_timeout, max_active_agents=max_active_agents
        )
        self._factories = self._directory.factories
        self._agents = self._directory.agents
        self._subscriptions = SubscriptionManager()
        self._serializers = SerializationRegistry()
        self._serializable: set[type[Any]] = set()
        self._interventions = list(intervention_handlers) if intervention_handlers else None
        self._tracer = (
            RuntimeTracer(tracer_provider, "SingleThreadedAgentRuntime")
            if tracer_provider is not None
            else None
        )
        self._ignore_unhandled = ignore_unhandled_exceptions
        self._strict = strict_serialization
        self._max_queued = max_queued_messages
        self._running = False
        self._mailboxes: dict[AgentId, Mailbox] = {}
        self._pending: deque[tuple[AgentId | None, Envelope]] = deque()
        self._pending_waiter: asyncio.Future[None] | None = None
        self._queued = 0
        self._outstanding = 0
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._space_waiters: deque[asyncio.Future[None]] = deque()
        self._handler_tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._background_exception: BaseException | None = None

    # ------------------------------------------------------------------ properties

    @property
    def unprocessed_messages_count(self) -> int:
        """Messages accepted but not yet started by their handler."""
        return len(self._pending) + self._queued

    @property
    def active_agents_count(self) -> int:
        """Agent instances currently alive (not deactivated)."""
        return len(self._agents)

    # ------------------------------------------------------------------ sending

    async def send_message(
        self,
        message: Any,
        recipient: AgentId,
        *,
        sender: AgentId | None = None,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
    ) -> Any:
        """Send ``message`` to ``recipient`` and return its handler's reply.

        See :meth:`MessageRuntime.send_message`. Cancelling the caller's token or its task
        cancels the handler's ``ctx.cancellation_token``.
        """
        if recipient.type not in self._factories:
            raise UndeliverableException(f"No agent type {recipient.type!r} is registered")
        if self._strict:
            self._check_serializable(message)
        if self._tracer is not None:
            with self._tracer.span("create", recipient):
                return await self._send(message, recipient, sender, cancellation_token, message_id)
        return await self._send(message, recipient, sender, cancellation_token, message_id)

    async def _send(
        self,
        message: Any,
        recipient: AgentId,
        sender: AgentId | None,
        cancellation_token: CancellationToken | None,
        message_id: str | None,
    ) -> Any:
        token = CancellationToken()
        parent = CURRENT_FRAME.get()
        env = Envelope(message, sender, None, True, token, message_id, recipient, parent)
        if self._interventions is not None:
            env.message = await self._intercept_send(env, recipient)
        if cancellation_token is not None:
            cancellation_token.add_callback(token.cancel)
        try:
            if parent is not None and chain_contains(parent, recipient):
                return await self._call_inline(recipient, env)
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            env.future = future
            token.link_future(future)
            if self._tracer is not None:
                env.trace = self._tracer.current_context()
            if self._max_queued is not None and parent is None:
                await self._wait_for_room()
            self._enqueue(recipient, env)
            try:
                return await future
            except asyncio.CancelledError:
                token.cancel()
                raise
        finally:
            if cancellation_token is not None:
                cancellation_token.remove_callback(token.cancel)

    async def publish_message(
        self,
        message: Any,
        topic_id: TopicId,
        *,
        sender: AgentId | None = None,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
    ) -> None:
        """Publish ``message`` to the subscribers of ``topic_id`` (not to the sender itself).

        Returns once the message is in the recipients' mailboxes.
        """
        if self._strict:
            self._check_serializable(message)
        if cancellation_token is None:
            cancellation_token = CancellationToken()
        env = Envelope(
            message, sender, topic_id, False, cancellation_token, message_id, NO_AGENT, None
        )
        if self._interventions is not None:
            dropped = await self._intercept_publish(env)
            if dropped:
                return
        if self._tracer is not None:
            with self._tracer.span("publish", topic_id):
                env.trace = self._tracer.current_context()
                await self._publish(env, topic_id, sender)
            return
        await self._publish(env, topic_id, sender)

    async def _publish(self, env: Envelope, topic_id: TopicId, sender: AgentId | None) -> None:
        if not self._running:
            self._add_pending(None, env)
            return
        if self._max_queued is not None and CURRENT_FRAME.get() is None:
            await self._wait_for_room()
        self._fan_out(env, topic_id, sender)

    def _fan_out(self, env: Envelope, topic_id: TopicId, sender: AgentId | None) -> None:
        factories = self._factories
        mailboxes = self._mailboxes
        count = 0
        for agent_id in self._subscriptions.recipients(topic_id):
            if agent_id.type not in factories:
                logger.error("No agent type %r for a subscription of %s", agent_id.type, topic_id)
                continue
            if sender is not None and agent_id == sender:
                continue
            box = mailboxes.get(agent_id)
            if box is None:
                self._open_mailbox(agent_id, env)
            else:
                box.items.append(env)
            count += 1
        self._queued += count
        self._outstanding += count

    def _enqueue(self, agent_id: AgentId, env: Envelope) -> None:
        if not self._running:
            self._add_pending(agent_id, env)
            return
        self._queued += 1
        self._outstanding += 1
        box = self._mailboxes.get(agent_id)
        if box is None:
            self._open_mailbox(agent_id, env)
        else:
            box.items.append(env)

    def _open_mailbox(self, agent_id: AgentId, first: Envelope | Any) -> None:
        box = Mailbox(agent_id, first)
        self._mailboxes[agent_id] = box
        box.task = asyncio.get_running_loop().create_task(self._drain(box))

    # ------------------------------------------------------------------ delivery

    async def _drain(self, box: Mailbox) -> None:
        """Handle ``box``'s messages one by one, then remove it (one task per busy agent)."""
        agent_id = box.agent_id
        items = box.items
        directory = self._directory
        agent: Agent | None = None
        handler: _Handler | None = None
        concurrent = False
        try:
            while True:
                while items:
                    item = items.popleft()
                    if item is DEACTIVATE:
                        if not items:
                            await directory.deactivate(agent_id)
                            agent = handler = None
                        continue
                    assert isinstance(item, Envelope)
                    self._queued -= 1
                    if self._space_waiters:
                        self._wake_room()
                    if handler is None:
                        agent = self._agents.get(agent_id)
                        if agent is None:
                            try:
                                agent = await directory.get(agent_id)
                            except Exception as e:
                                self._fail_activation(item, box, e)
                                return
                            if directory.over_capacity():
                                self._sweep()
                        handler = _handler_of(agent)
                        concurrent = bool(getattr(type(agent), "concurrent_handling", False))
                    if concurrent:
                        handler_task = asyncio.get_running_loop().create_task(
                            self._deliver(handler, agent_id, item)
                        )
                        self._handler_tasks.add(handler_task)
                        handler_task.add_done_callback(self._handler_tasks.discard)
                        continue
                    await self._deliver(handler, agent_id, item)
                # Linger one loop iteration: a caller awaiting our reply often sends again.
                await asyncio.sleep(0)
                if not items:
                    break
        finally:
            if self._mailboxes.get(agent_id) is box:
                del self._mailboxes[agent_id]
            if directory.tracks_idle:
                directory.mark_idle(agent_id)

    async def _deliver(
        self,
        handler: _Handler,
        agent_id: AgentId,
        env: Envelope,
    ) -> None:
        """Run one message's handler and settle its reply."""
        future = env.future
        try:
            if future is not None:
                if future.done():
                    return  # the caller gave up before the turn began
                env.active = True
                CURRENT_FRAME.set(env)
                try:
                    if self._tracer is not None:
                        with self._tracer.span("process", agent_id, parent=env.trace):
                            result = await handler(env.message, env)
                    else:
                        result = await handler(env.message, env)
                except asyncio.CancelledError:
                    if _task_cancelled():
                        if not future.done():
                            future.set_exception(self._stopped_error())
                        raise
                    future.cancel()
                except Exception as e:
                    if not future.done():
                        future.set_exception(e)
                else:
                    if self._interventions is not None or self._strict:
                        try:
                            result = await self._settle_response(result, agent_id, env.sender)
                        except Exception as e:
                            if not future.done():
                                future.set_exception(e)
                            return
                    if not future.done():
                        future.set_result(result)
                finally:
                    env.active = False
            else:
                frame = Frame(agent_id, None)
                CURRENT_FRAME.set(frame)
                try:
                    if self._tracer is not None:
                        with self._tracer.span("process", agent_id, parent=env.trace):
                            await handler(env.message, env)
                    else:
                        await handler(env.message, env)
                except asyncio.CancelledError:
                    if _task_cancelled():
                        raise
                except Exception as e:
                    self._event_failed(agent_id, env, e)
                finally:
                    frame.active = False
        finally:
            self._outstanding -= 1
            if not self._outstanding and self._idle_waiters:
                self._wake_idle()

    async def _call_inline(self, agent_id: AgentId, env: Envelope) -> Any:
        """Run a reentrant call (its recipient waits in the caller's chain) in this task."""
        agent = await self._directory.get(agent_id)
        env.active = True
        reset = CURRENT_FRAME.set(env)
        try:
            result = await agent.on_message(env.message, env)
        except asyncio.CancelledError:
            env.cancellation_token.cancel()
            raise
        finally:
            env.active = False
            CURRENT_FRAME.reset(reset)
        if self._interventions is not None or self._strict:
            result = await self._settle_response(result, agent_id, env.sender)
        return result

    def _fail_activation(self, first: Envelope, box: Mailbox, error: Exception) -> None:
        dropped = [first]
        while box.items:
            item = box.items.popleft()
            if isinstance(item, Envelope):
                self._queued -= 1
                dropped.append(item)
        for env in dropped:
            if env.future is not None:
                if not env.future.done():
                    env.future.set_exception(error)
            else:
                self._event_failed(box.agent_id, env, error)
            self._outstanding -= 1
        if not self._outstanding and self._idle_waiters:
            self._wake_idle()

    def _event_failed(self, agent_id: AgentId, env: Envelope, error: BaseException) -> None:
        logger.error(
            "Error handling published message %s for %s",
            type(env.message).__name__,
            agent_id,
            exc_info=error,
        )
        if not self._ignore_unhandled and self._background_exception is None:
            self._background_exception = error

    # ------------------------------------------------------------------ interventions

    async def _intercept_send(self, env: Envelope, recipient: AgentId) -> Any:
        message = env.message
        assert self._interventions is not None
        for handler in self._interventions:
            changed = await handler.on_send(message, message_context=env, recipient=recipient)
            _warn_if_none(changed, "on_send")
            if changed is DropMessage or isinstance(changed, DropMessage):
                raise MessageDroppedException(
                    f"{type(handler).__name__} dropped {type(message).__name__} for {recipient}"
                )
            if changed is not None:
                message = changed
        return message

    async def _intercept_publish(self, env: Envelope) -> bool:
        assert self._interventions is not None
        for handler in self._interventions:
            try:
                changed = await handler.on_publish(env.message, message_context=env)
            except Exception:
                logger.exception("Intervention handler %s failed on publish", handler)
                return True
            _warn_if_none(changed, "on_publish")
            if changed is DropMessage or isinstance(changed, DropMessage):
                return True
            if changed is not None:
                env.message = changed
        return False

    async def _settle_response(
        self, result: Any, sender: AgentId, recipient: AgentId | None
    ) -> Any:
        if self._interventions is not None:
            for handler in self._interventions:
                changed = await handler.on_response(result, sender=sender, recipient=recipient)
                _warn_if_none(changed, "on_response")
                if changed is DropMessage or isinstance(changed, DropMessage):
                    raise MessageDroppedException(f"{type(handler).__name__} dropped the reply")
                if changed is not None:
                    result = changed
        if self._strict and result is not None:
            self._check_serializable(result)
        return result

    def _check_serializable(self, message: Any) -> None:
        cls = type(message)
        if cls in self._serializable:
            return
        if not self._serializers.is_registered(type_name(cls)):
            raise SerializationError(
                f"No serializer registered for message type {cls.__qualname__!r} (strict "
                "serialization): register the agent that handles it or call "
                "add_message_serializer()."
            )
        self._serializable.add(cls)

    # ------------------------------------------------------------------ accounting

    def _wake_idle(self) -> None:
        waiters, self._idle_waiters = self._idle_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _wait_for_room(self) -> None:
        limit = self._max_queued
        assert limit is not None
        while self._queued >= limit and self._running:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._space_waiters.append(waiter)
            await waiter

    def _wake_room(self) -> None:
        limit = self._max_queued
        assert limit is not None
        while self._space_waiters and self._queued < limit:
            waiter = self._space_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _add_pending(self, agent_id: AgentId | None, env: Envelope) -> None:
        self._pending.append((agent_id, env))
        waiter = self._pending_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _dispatch_pending(self, agent_id: AgentId | None, env: Envelope) -> None:
        if agent_id is not None:
            self._queued += 1
            self._outstanding += 1
            box = self._mailboxes.get(agent_id)
            if box is None:
                self._open_mailbox(agent_id, env)
            else:
                box.items.append(env)
        else:
            assert env.topic_id is not None
            self._fan_out(env, env.topic_id, env.sender)

    def _stopped_error(self) -> RuntimeStoppedError:
        return RuntimeStoppedError("The runtime stopped before the message was handled")

    def _raise_background_exception(self) -> None:
        error = self._background_exception
        if error is not None:
            self._background_exception = None
            raise error

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start handling messages in the background (call from a running event loop)."""
        if self._running:
            raise RuntimeError("Runtime is already started")
        self._running = True
        while self._pending:
            self._dispatch_pending(*self._pending.popleft())
        if self._directory.tracks_idle:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def process_next(self) -> None:
        """Without :meth:`start`: hand the next queued message to its agent (waits for one).

        Raises the first unhandled event-handler exception when ``ignore_unhandled_exceptions``
        is False.
        """
        if self._running:
            raise RuntimeError("process_next() is for a runtime that is not started")
        self._raise_background_exception()
        while not self._pending:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._pending_waiter = waiter
            try:
                await waiter
            finally:
                self._pending_waiter = None
        self._dispatch_pending(*self._pending.popleft())
        await asyncio.sleep(0)

    async def stop(self) -> None:
        """Stop at once: queued messages are dropped, running handlers are cancelled, and
        every RPC still waiting fails with :class:`~agent_runner.errors.RuntimeStoppedError`.
        """
        if not self._running:
            raise RuntimeError("Runtime is not started")
        self._running = False
        await self._cancel_work()
        self._raise_background_exception()

    async def stop_when_idle(self) -> None:
        """Wait until no message is queued or being handled, then stop."""
        if not self._running:
            raise RuntimeError("Runtime is not started")
        while self._outstanding:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(waiter)
            await waiter
            if not self._running:
                self._raise_background_exception()
                return
        await self.stop()

    async def stop_when(self, condition: Callable[[], bool], check_period: float = 0.01) -> None:
        """Stop once ``condition()`` is true (checked every ``check_period`` seconds)."""
        if not self._running:
            raise RuntimeError("Runtime is not started")
        while not condition():  # noqa: ASYNC110 - a condition on arbitrary state has no event
            await asyncio.sleep(check_period)
        await self.stop()

    async def close(self) -> None:
        """Stop if started, then close every live agent."""
        if self._running:
            await self.stop()
        else:
            await self._cancel_work()
        for agent in list(self._agents.values()):
            await agent.close()

    async def _cancel_work(self) -> None:
        current = asyncio.current_task()
        tasks: list[asyncio.Task[Any]] = []
        for box in list(self._mailboxes.values()):
            for item in box.items:
                if isinstance(item, Envelope) and item.future is not None:
                    if not item.future.done():
                        item.future.set_exception(self._stopped_error())
            box.items.clear()
            if box.task is not None and box.task is not current:
                tasks.append(box.task)
        tasks.extend(t for t in self._handler_tasks if t is not current)
        if self._sweeper is not None:
            tasks.append(self._sweeper)
            self._sweeper = None
        for task in tasks:
            task.cancel()
        while self._space_waiters:
            waiter = self._space_waiters.popleft()
            if not waiter.done():
                waiter.set_exception(self._stopped_error())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for box in list(self._mailboxes.values()):
            if box.task is not current:
                del self._mailboxes[box.agent_id]
        self._queued = 0
        self._outstanding = 0
        self._wake_idle()

    async def _sweep_forever(self) -> None:
        directory = self._directory
        period = directory.idle_timeout / 2 if directory.idle_timeout is not None else 0.05
        while True:
            await asyncio.sleep(period)
            self._sweep()

    def _sweep(self) -> None:
        for agent_id in self._directory.pick_victims(self._mailboxes, time.monotonic()):
            self._open_mailbox(agent_id, DEACTIVATE)

    # ------------------------------------------------------------------ registry

    async def register_factory(
        self,
        type: str | AgentType,
        agent_factory: Callable[[], T | Awaitable[T]],
        *,
        expected_class: type[T] | None = None,
    ) -> AgentType:
        """Register a factory creating the agents of ``type`` on their first message."""
        return self._directory.register_factory(type, agent_factory, expected_class)

    async def register_agent_instance(self, agent_instance: Agent, agent_id: AgentId) -> AgentId:
        """Register an existing instance (never deactivated)."""
        return await self._directory.register_instance(agent_instance, agent_id)

    async def _get_agent(self, agent_id: AgentId) -> Agent:
        agent = await self._directory.get(agent_id)
        if self._directory.over_capacity() and self._running:
            self._sweep()
        return agent

    async def try_get_underlying_agent_instance(self, id: AgentId, type: type[T] = Agent) -> T:  # type: ignore[assignment]
        """The agent object behind ``id`` (LookupError: unknown type; TypeError: wrong class)."""
        if id.type not in self._factories:
            raise LookupError(f"Agent with name {id.type} not found.")
        agent = await self._get_agent(id)
        if not isinstance(agent, type):
            raise TypeError(
                f"Agent with name {id.type} is not of type {type.__name__}. "
                f"It is of type {agent.__class__.__name__}"
            )
        return agent

    async def get(
        self, id_or_type: AgentId | AgentType | str, /, key: str = "default", *, lazy: bool = True
    ) -> AgentId:
        """The id of an agent (``lazy=False`` creates it now)."""
        if isinstance(id_or_type, AgentId):
            agent_id = id_or_type
        else:
            type_str = id_or_type if isinstance(id_or_type, str) else id_or_type.type
            agent_id = AgentId(type_str, key)
        if not lazy:
            await self._get_agent(agent_id)
        return agent_id

    async def agent_metadata(self, agent: AgentId) -> AgentMetadata:
        return (await self._get_agent(agent)).metadata

    async def agent_save_state(self, agent: AgentId) -> Mapping[str, Any]:
        if agent not in self._agents and agent in self._directory.saved:
            return self._directory.saved[agent]
        return await (await self._get_agent(agent)).save_state()

    async def agent_load_state(self, agent: AgentId, state: Mapping[str, Any]) -> None:
        await (await self._get_agent(agent)).load_state(state)

    async def save_state(self) -> Mapping[str, Any]:
        """Every agent's state by ``str(agent_id)`` (deactivated agents included)."""
        state: dict[str, Any] = {str(k): dict(v) for k, v in self._directory.saved.items()}
        for agent_id, agent in list(self._agents.items()):
            state[str(agent_id)] = dict(await agent.save_state())
        return state

    async def load_state(self, state: Mapping[str, Any]) -> None:
        """Load each known agent's state (agents of unknown types are skipped)."""
        for key, agent_state in state.items():
            agent_id = AgentId.from_str(key)
            if agent_id.type in self._factories:
                await (await self._get_agent(agent_id)).load_state(agent_state)

    async def add_subscription(self, subscription: Subscription) -> None:
        self._subscriptions.add(subscription)

    async def remove_subscription(self, id: str) -> None:
        self._subscriptions.remove(id)

    def add_message_serializer(
        self, serializer: MessageSerializer[Any] | Sequence[MessageSerializer[Any]]
    ) -> None:
        self._serializers.add_serializer(serializer)


__all__ = ["SingleThreadedAgentRuntime"]
