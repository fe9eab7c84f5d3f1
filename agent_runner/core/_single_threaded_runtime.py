"""SingleThreadedAgentRuntime: the in-process message runtime, with actor turns."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from agent_runner.core._access_policy import AccessPolicy
from agent_runner.core._agent_directory import AgentDirectory, checked_instance
from agent_runner.core._agent_id import AgentId
from agent_runner.core._agent_metadata import AgentMetadata
from agent_runner.core._agent_protocol import Agent
from agent_runner.core._agent_type import AgentType
from agent_runner.core._backpressure import Backpressure
from agent_runner.core._cancellation_token import CancellationToken
from agent_runner.core._held_messages import HeldMessages
from agent_runner.core._idle_sweeper import IdleSweeper
from agent_runner.core._intervention import InterventionHandler
from agent_runner.core._mailbox import Envelope
from agent_runner.core._mailroom import Mailroom
from agent_runner.core._message_gate import MessageGate
from agent_runner.core._message_handler_context import CURRENT_FRAME, chain_contains
from agent_runner.core._serialization import MessageSerializer, SerializationRegistry
from agent_runner.core._subscription import Subscription
from agent_runner.core._subscription_manager import SubscriptionManager
from agent_runner.core._telemetry import RuntimeTracer
from agent_runner.core._topic import TopicId
from agent_runner.errors import UndeliverableException

T = TypeVar("T", bound=Agent)


class SingleThreadedAgentRuntime:
    """The in-process :class:`MessageRuntime`: every agent lives in this event loop.

    Each agent instance handles one message at a time, in arrival order (an actor turn).
    A call chain that comes back to an agent waiting in it (A asks B, B asks A, or A asks
    itself) runs at once instead of deadlocking. Classes with ``concurrent_handling = True``
    handle their messages concurrently. Messages wait in a per-agent mailbox that exists only
    while the agent has work, drained by one task per busy agent.

    Args:
        intervention_handlers: Handlers that see, change or drop every send, publish and
            reply.
        tracer_provider: An OpenTelemetry ``TracerProvider``; spans are made only when given
            (``opentelemetry`` is not even imported otherwise).
        ignore_unhandled_exceptions: When False, the first exception raised by an event
            handler is re-raised by the next :meth:`process_next` or by :meth:`stop` /
            :meth:`stop_when_idle`. RPC handler exceptions always go to the caller.
        idle_timeout: Deactivate agents idle for this many seconds: their state is saved
            (``save_state``) and kept by the runtime, the object is released and ``close()``
            is called; the next message recreates it and calls ``load_state``. Agents that
            do not implement ``save_state`` come back fresh; registered instances are never
            deactivated.
        max_active_agents: Keep at most this many agents alive, deactivating the least
            recently used idle ones beyond it.
        max_queued_messages: Bound on messages waiting in mailboxes: senders outside agent
            handlers wait for room instead of growing memory (handlers are never blocked,
            which could deadlock an agent waiting on its own mailbox).
        strict_serialization: Fail a send or publish (and an RPC reply) whose type has no
            registered serializer with :class:`~agent_runner.errors.SerializationError`, so
            code that runs here also runs on the distributed runtime.
        access_policy: Who may send to whom and publish where (:class:`AccessPolicy`).

    Example::

        runtime = SingleThreadedAgentRuntime()
        await Worker.register(runtime, "worker", Worker)
        runtime.start()
        reply = await runtime.send_message(WorkRequest("t1", "data"), AgentId("worker", "w"))
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
        access_policy: AccessPolicy | None = None,
    ) -> None:
        self._backpressure = (
            Backpressure(max_queued_messages) if max_queued_messages is not None else None
        )
        self._directory = AgentDirectory(
            self, idle_timeout=idle_timeout, max_active_agents=max_active_agents
        )
        self._factories = self._directory.factories
        self._tracer = (
            RuntimeTracer(tracer_provider, "SingleThreadedAgentRuntime")
            if tracer_provider is not None
            else None
        )
        self._serializers = serializers = SerializationRegistry()
        gate = self._gate = MessageGate(
            intervention_handlers, serializers, strict=strict_serialization, access=access_policy
        )
        self._gated = gate.active or gate.access is not None
        self._mailroom = Mailroom(
            self._directory,
            gate,
            self._tracer,
            self._backpressure,
            ignore_unhandled_exceptions=ignore_unhandled_exceptions,
        )
        self._subscriptions = SubscriptionManager(known_types=self._factories)
        self._running = False
        self._held = HeldMessages()
        self._sweeper = (
            IdleSweeper(idle_timeout, self._mailroom.sweep) if idle_timeout is not None else None
        )

    # ------------------------------------------------------------------ properties

    @property
    def unprocessed_messages_count(self) -> int:
        """Messages accepted but not yet started by their handler."""
        return len(self._held) + self._mailroom.queued_count

    @property
    def active_agents_count(self) -> int:
        """Agent instances currently alive (not deactivated)."""
        return len(self._directory.agents)

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
        if recipient[0] not in self._factories:
            raise UndeliverableException(f"No agent type {recipient.type!r} is registered")
        span = None
        if self._tracer is not None:
            span = self._tracer.span("create", recipient)
            span.__enter__()
        token = CancellationToken()
        parent = CURRENT_FRAME.get()
        env = Envelope(message, sender, None, True, token, message_id, parent)
        if cancellation_token is not None:
            cancellation_token.add_callback(token.cancel)
        try:
            if self._gated:
                self._gate.admit_send(message, sender, recipient)
                env.message = await self._gate.on_send(message, env, recipient)
            if parent is not None and chain_contains(parent, recipient):
                result = await self._mailroom.call_inline(recipient, env)
            else:
                future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                env.future = future
                token.link_future(future)
                if span is not None:
                    env.trace = self._tracer.current_context()  # type: ignore[union-attr]
                if not self._running:
                    self._held.add(recipient, env)
                else:
                    if self._backpressure is not None and parent is None:
                        await self._backpressure.wait_for_room()
                    self._mailroom.enqueue(recipient, env)
                try:
                    result = await future
                except asyncio.CancelledError:
                    token.cancel()
                    raise
        except BaseException as e:
            if span is not None:
                span.__exit__(type(e), e, e.__traceback__)
            raise
        finally:
            if cancellation_token is not None:
                cancellation_token.remove_callback(token.cancel)
        if span is not None:
            span.__exit__(None, None, None)
        return result

    def claim_turn(self, agent_id: AgentId) -> Agent | None:
        """The live agent, its next turn taken by the calling task to call it directly (an
        extension for callers that order each agent's work, as the I/O runner does); None
        when a message must be sent instead (stopped, gated or traced runtime; see Mailroom)."""
        if not self._running or self._gated or self._tracer is not None:
            return None
        return self._mailroom.claim(agent_id)

    def release_turn(self, agent_id: AgentId) -> None:
        """End the turn :meth:`claim_turn` took (from the same task)."""
        self._mailroom.release(agent_id)

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
        if cancellation_token is None:
            cancellation_token = CancellationToken()
        env = Envelope(message, sender, topic_id, False, cancellation_token, message_id, None)
        if self._gated:
            if not self._gate.admit_publish(message, sender, topic_id):
                return
            dropped, env.message = await self._gate.on_publish(message, env)
            if dropped:
                return
        span = None
        if self._tracer is not None:
            span = self._tracer.span("publish", topic_id)
            span.__enter__()
            env.trace = self._tracer.current_context()
        try:
            if not self._running:
                self._held.add(None, env)
            else:
                if self._backpressure is not None and CURRENT_FRAME.get() is None:
                    await self._backpressure.wait_for_room()
                self._mailroom.fan_out(env, self._subscriptions.recipients(topic_id), sender)
        except BaseException as e:
            if span is not None:
                span.__exit__(type(e), e, e.__traceback__)
            raise
        if span is not None:
            span.__exit__(None, None, None)

    def _hand_over(self, agent_id: AgentId | None, env: Envelope) -> None:
        """Queue a message held before the runtime started."""
        if agent_id is not None:
            self._mailroom.enqueue(agent_id, env)
        else:
            assert env.topic_id is not None
            recipients = self._subscriptions.recipients(env.topic_id)
            self._mailroom.fan_out(env, recipients, env.sender)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start handling messages in the background (call from a running event loop)."""
        if self._running:
            raise RuntimeError("Runtime is already started")
        self._running = True
        for agent_id, env in self._held.take_all():
            self._hand_over(agent_id, env)
        if self._sweeper is not None:
            self._sweeper.start()

    async def process_next(self) -> None:
        """Without :meth:`start`: hand the next queued message to its agent (waits for one).

        Raises the first unhandled event-handler exception when ``ignore_unhandled_exceptions``
        is False.
        """
        if self._running:
            raise RuntimeError("process_next() is for a runtime that is not started")
        self._mailroom.errors.raise_kept()
        self._hand_over(*await self._held.take_next())
        await asyncio.sleep(0)

    async def stop(self) -> None:
        """Stop at once: queued messages are dropped, running handlers are cancelled, and
        every RPC still waiting fails with :class:`~agent_runner.errors.RuntimeStoppedError`.
        """
        if not self._running:
            raise RuntimeError("Runtime is not started")
        self._running = False
        tasks = self._mailroom.cancel_all()
        if self._sweeper is not None:
            tasks += self._sweeper.stop()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._mailroom.errors.raise_kept()

    async def stop_when_idle(self) -> None:
        """Wait until no message is queued or being handled, then stop."""
        if not self._running:
            raise RuntimeError("Runtime is not started")
        await self._mailroom.wait_idle()
        if not self._running:  # stopped meanwhile by someone else
            self._mailroom.errors.raise_kept()
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
            tasks = self._mailroom.cancel_all()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        for agent in list(self._directory.agents.values()):
            await agent.close()

    # ------------------------------------------------------------------ registry

    async def register_factory(
        self,
        type: str | AgentType,
        agent_factory: Callable[[], T | Awaitable[T]],
        *,
        expected_class: type[T] | None = None,
    ) -> AgentType:
        """Register a factory creating the agents of ``type`` on their first message."""
        registered = self._directory.register_factory(type, agent_factory, expected_class)
        self._subscriptions.invalidate()
        return registered

    async def register_agent_instance(self, agent_instance: Agent, agent_id: AgentId) -> AgentId:
        """Register an existing instance (never deactivated)."""
        registered = await self._directory.register_instance(agent_instance, agent_id)
        self._subscriptions.invalidate()
        return registered

    async def _get_agent(self, agent_id: AgentId) -> Agent:
        agent = await self._directory.get(agent_id)
        if self._directory.over_capacity() and self._running:
            self._mailroom.sweep()
        return agent

    async def try_get_underlying_agent_instance(self, id: AgentId, type: type[T] = Agent) -> T:  # type: ignore[assignment]
        """The agent object behind ``id`` (LookupError: unknown type; TypeError: wrong class)."""
        if id.type not in self._factories:
            raise LookupError(f"Agent with name {id.type} not found.")
        return checked_instance(await self._get_agent(id), type, id)

    async def get(
        self, id_or_type: AgentId | AgentType | str, /, key: str = "default", *, lazy: bool = True
    ) -> AgentId:
        """The id of an agent (``lazy=False`` creates it now)."""
        agent_id = id_or_type
        if not isinstance(agent_id, AgentId):
            agent_id = AgentId(agent_id if isinstance(agent_id, str) else agent_id.type, key)
        if not lazy:
            await self._get_agent(agent_id)
        return agent_id

    async def agent_metadata(self, agent: AgentId) -> AgentMetadata:
        return (await self._get_agent(agent)).metadata

    async def agent_save_state(self, agent: AgentId) -> Mapping[str, Any]:
        saved = self._directory.saved.get(agent)  # only deactivated agents have one
        return saved if saved is not None else await (await self._get_agent(agent)).save_state()

    async def agent_load_state(self, agent: AgentId, state: Mapping[str, Any]) -> None:
        await (await self._get_agent(agent)).load_state(state)

    async def save_state(self) -> Mapping[str, Any]:
        """Every agent's state by ``str(agent_id)`` (deactivated agents included)."""
        return await self._directory.save_all()

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
