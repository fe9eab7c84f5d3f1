"""DistributedAgentRuntime: the core's MessageRuntime over Redis Streams.

Any number of worker processes, on any machines, run the same agent classes as
:class:`~agent_runner.core.SingleThreadedAgentRuntime`. Redis is the host: there is no
broker process of ours. The wire format is documented in ``docs/concepts/distributed.md``.

The runtime owns one object per concern: the :class:`Messenger` (calls, publishes, replies),
the :class:`HostedAgents` and the :class:`Host` with its :class:`PartitionReader` (the
worker side), the :class:`Heartbeat` keeping the owned partitions in step, and the
:class:`Outbox` through which every write goes.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from agent_runner.core import (
    AccessPolicy,
    Agent,
    AgentId,
    AgentMetadata,
    AgentType,
    CancellationToken,
    InterventionHandler,
    MessageSerializer,
    Subscription,
    TopicId,
)
from agent_runner.distributed._agent_access import AgentAccess
from agent_runner.distributed._codec import PayloadCodec
from agent_runner.distributed._heartbeat import Heartbeat
from agent_runner.distributed._host import Host
from agent_runner.distributed._hosted_agents import HostedAgents
from agent_runner.distributed._link import redis_client
from agent_runner.distributed._messenger import Messenger
from agent_runner.distributed._options import Options
from agent_runner.distributed._outbox import Outbox
from agent_runner.distributed._partition_counts import PartitionCounts
from agent_runner.distributed._registry import Partition
from agent_runner.distributed._subscriptions import SubscriptionTable
from agent_runner.distributed._wire import Keys
from agent_runner.errors import CoreError

T = TypeVar("T", bound=Agent)


class DistributedAgentRuntime:
    """The message runtime of many worker processes sharing one Redis.

    Each agent type's keys are spread over ``partitions`` streams; the live workers hosting
    the type share the partitions by rendezvous hashing, one owner per partition at a time
    (a lease), so one agent key is active in one worker and handles its messages in order.
    A dead worker's partitions and pending messages go to the others after
    ``heartbeat_ttl``; agents come back with the state they saved after their last message.

    Args:
        redis_url: ``redis://``, ``rediss://`` (TLS) or ``unix://`` URL, with password and
            database as usual (``redis://:secret@host:6379/0``).
        prefix: Prefix of every Redis key; deployments sharing a Redis use different ones.
        partitions: Streams per agent type (set by the first worker registering the type).
        rpc_timeout: Default seconds an RPC waits for its reply (None: forever).
        max_payload_bytes: Larger payloads are refused (sender) or answered with an error.
        heartbeat_interval: Seconds between heartbeats and lease renewals.
        heartbeat_ttl: A worker silent this long is dead; its partitions move.
        claim_min_idle: A dead worker's pending message is claimed once idle this long.
        read_count: Entries per stream per XREADGROUP.
        block: Seconds a blocking read waits before looping.
        max_inflight: Messages read but not yet handled, per worker (back-pressure).
        shutdown_grace: Seconds :meth:`stop` waits for in-flight messages.
        retry_for: Seconds writes are retried while Redis is unreachable.
        intervention_handlers: As on SingleThreadedAgentRuntime (run in the sending process).
        access_policy: As on SingleThreadedAgentRuntime, checked in the sending process;
            Redis ACLs make it hard between processes (:func:`acl_rules`).
        ignore_unhandled_exceptions: When False, the first exception raised by an event
            handler in this worker (an agent that fails to be created included) is re-raised
            by :meth:`stop`, :meth:`stop_when_idle` or :meth:`close`, as on
            SingleThreadedAgentRuntime. RPC handler exceptions always go to the caller.
        worker_id: This runtime's id on the wire (default: host-pid-random).
        redis_options: Extra keyword arguments for ``redis.asyncio.Redis.from_url``.

    Example::

        runtime = DistributedAgentRuntime("redis://127.0.0.1:6379/0")
        await Worker.register(runtime, "worker", Worker)
        runtime.start()
        reply = await runtime.send_message(Work("x"), AgentId("worker", "k1"))
        await runtime.close()
    """

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = "agent-runner",
        partitions: int = 16,
        rpc_timeout: float | None = 60.0,
        max_payload_bytes: int = 1 << 20,
        heartbeat_interval: float = 1.0,
        heartbeat_ttl: float = 5.0,
        claim_min_idle: float = 1.0,
        read_count: int = 512,
        block: float = 2.0,
        max_inflight: int = 8192,
        shutdown_grace: float = 10.0,
        retry_for: float = 30.0,
        intervention_handlers: Sequence[InterventionHandler] | None = None,
        ignore_unhandled_exceptions: bool = True,
        worker_id: str | None = None,
        redis_options: Mapping[str, Any] | None = None,
        access_policy: AccessPolicy | None = None,
    ) -> None:
        options = Options(
            prefix=prefix,
            partitions=partitions,
            rpc_timeout=rpc_timeout,
            max_payload_bytes=max_payload_bytes,
            heartbeat_interval=heartbeat_interval,
            heartbeat_ttl=heartbeat_ttl,
            claim_min_idle=claim_min_idle,
            read_count=read_count,
            block=block,
            max_inflight=max_inflight,
            shutdown_grace=shutdown_grace,
            retry_for=retry_for,
        )
        self._options = options
        me = self.worker_id = worker_id or (
            f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        )
        client = self._client = redis_client(
            redis_url, block=block, client_name=f"agent-runner:{me}", options=redis_options
        )
        keys = self._keys = Keys(options.prefix)
        codec = self._codec = PayloadCodec(max_payload_bytes=options.max_payload_bytes)
        outbox = self._outbox = Outbox(client, retry_for=options.retry_for)
        counts = PartitionCounts(outbox, keys)
        subscriptions = self._subscriptions = SubscriptionTable(client, keys)
        messenger = self._messenger = Messenger(
            client,
            keys,
            outbox,
            codec,
            counts,
            subscriptions,
            options,
            worker_id=me,
            interventions=intervention_handlers or (),
            access=access_policy,
        )
        agents = self._agents = HostedAgents(self, outbox, keys, counts, worker_id=me)
        heartbeat = self._heartbeat = Heartbeat(
            client,
            agents,
            subscriptions,
            messenger,
            counts,
            outbox,
            keys,
            options,
            worker_id=me,
            on_released=self._on_released,
        )
        self._host = Host(
            agents,
            heartbeat.table,
            outbox,
            codec,
            keys,
            options,
            worker_id=me,
            on_rebalance=heartbeat.soon,
            keep_event_errors=not ignore_unhandled_exceptions,
        )
        self._access = AgentAccess(messenger, agents, heartbeat, counts, client, keys, worker_id=me)
        self._connected = False
        self._started = False
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _ensure_client(self) -> None:
        if self._closed:
            raise CoreError("the runtime is closed")
        if not self._connected:
            self._connected = True
            self._outbox.start()
            self._messenger.start()

    def start(self) -> None:
        """Start hosting: heartbeats, partition ownership and the read loop (background)."""
        if self._started:
            raise RuntimeError("Runtime is already started")
        self._ensure_client()
        self._started = True
        self._heartbeat.start()
        self._host.start(self._client)

    async def stop(self) -> None:
        """Stop hosting: finish in-flight messages, release partitions to the other workers."""
        if not self._started:
            raise RuntimeError("Runtime is not started")
        await self._stop_hosting()
        self._host.raise_background_exception()

    async def _stop_hosting(self) -> None:
        self._started = False
        await self._heartbeat.stop()
        await self._host.stop(self._options.shutdown_grace)
        await self._outbox.flush()
        await self._heartbeat.leave()
        await self._outbox.flush()

    async def stop_when_idle(self) -> None:
        """Stop once nothing is in flight here and the hosted types' streams are drained."""
        if not self._started:
            raise RuntimeError("Runtime is not started")
        while True:
            await self._outbox.flush()
            if (
                self._host.inflight == 0
                and not self._messenger.calls_in_flight
                and await self._heartbeat.table.drained(self._agents.factories)
            ):
                break
            await asyncio.sleep(0.01)
        await self.stop()

    async def stop_when(self, condition: Callable[[], bool], check_period: float = 0.05) -> None:
        """Stop once ``condition()`` is true (polled every ``check_period`` seconds)."""
        while not condition():  # noqa: ASYNC110 - a condition on arbitrary state has no event
            await asyncio.sleep(check_period)
        await self.stop()

    async def close(self) -> None:
        """Stop if started, close the agents, fail pending calls, disconnect."""
        if self._closed:
            return
        if self._started:
            await self._stop_hosting()
        await self._agents.close_all()
        await self._messenger.close()
        if self._connected:
            self._outbox.push(
                "DEL", self._messenger.reply_stream, self._keys.control(self.worker_id)
            )
        await self._outbox.close()
        self._closed = True
        await self._client.aclose()
        self._host.raise_background_exception()

    @property
    def unprocessed_messages_count(self) -> int:
        """Messages read by this worker and not yet handled."""
        return self._host.inflight

    async def _on_released(self, partitions: set[Partition]) -> None:
        await self._host.release_agents(partitions)

    # -- messaging -------------------------------------------------------------------
    async def send_message(
        self,
        message: Any,
        recipient: AgentId,
        *,
        sender: AgentId | None = None,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
    ) -> Any:
        """Send an RPC and return the reply (see MessageRuntime.send_message).

        Raises the handler's error as a :class:`RemoteError` (also an instance of the
        original class when it is a built-in or agent-runner error), or RPCTimeoutError.
        """
        self._ensure_client()
        return await self._messenger.send(
            message, recipient, sender, cancellation_token, message_id
        )

    async def publish_message(
        self,
        message: Any,
        topic_id: TopicId,
        *,
        sender: AgentId | None = None,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
    ) -> None:
        """Publish to every subscriber of ``topic_id``; returns once durably queued."""
        self._ensure_client()
        await self._messenger.publish(message, topic_id, sender, cancellation_token, message_id)

    # -- registration ----------------------------------------------------------------
    async def register_factory(
        self,
        type: str | AgentType,
        agent_factory: Callable[[], T | Awaitable[T]],
        *,
        expected_class: type[T] | None = None,
    ) -> AgentType:
        """Host agents of ``type`` here, created by ``agent_factory`` on first message."""
        name = self._agents.register_factory(type, agent_factory, expected_class)
        await self._advertise(name)
        return AgentType(name)

    async def register_agent_instance(self, agent_instance: Agent, agent_id: AgentId) -> AgentId:
        """Host one agent instance here (its type should be hosted by this worker only)."""
        if await self._agents.register_instance(agent_instance, agent_id):
            await self._advertise(agent_id.type)
        return agent_id

    async def _advertise(self, agent_type: str) -> None:
        self._ensure_client()
        if self._started:
            await self._heartbeat.step()
        else:
            await self._client.hsetnx(self._keys.types, agent_type, self._options.partitions)

    def add_message_serializer(
        self, serializer: MessageSerializer[Any] | Sequence[MessageSerializer[Any]]
    ) -> None:
        self._codec.add(serializer)

    async def add_subscription(self, subscription: Subscription) -> None:
        self._ensure_client()
        await self._subscriptions.add(subscription)

    async def remove_subscription(self, id: str) -> None:
        self._ensure_client()
        await self._subscriptions.remove(id)

    # -- agents and state ------------------------------------------------------------
    async def agent_metadata(self, agent: AgentId) -> AgentMetadata:
        """The agent's metadata, asked of the worker where it is active."""
        self._ensure_client()
        return await self._access.metadata(agent)

    async def agent_save_state(self, agent: AgentId) -> Mapping[str, Any]:
        """The agent's state, asked of the worker where it is active (in message order)."""
        self._ensure_client()
        return await self._access.save(agent)

    async def agent_load_state(self, agent: AgentId, state: Mapping[str, Any]) -> None:
        """Load a state into the agent, on the worker where it is active (in message order)."""
        self._ensure_client()
        await self._access.load(agent, state)

    async def save_state(self) -> Mapping[str, Any]:
        """Saved states of the agents of the types hosted here, keyed ``type/key``.

        Agents active on this worker report their current state; others their last saved.
        """
        self._ensure_client()
        return await self._access.save_all()

    async def load_state(self, state: Mapping[str, Any]) -> None:
        """Load every ``type/key`` state, each on the worker where the agent is active."""
        self._ensure_client()
        await self._access.load_all(state)

    async def try_get_underlying_agent_instance(
        self,
        id: AgentId,
        type: type[T] = Agent,  # type: ignore[assignment]
    ) -> T:
        """The local agent object; NotAccessibleError when it is active on another worker."""
        return await self._access.local(id, type)

    async def get(
        self, id_or_type: AgentId | AgentType | str, /, key: str = "default", *, lazy: bool = True
    ) -> AgentId:
        """The agent id; with ``lazy=False`` the agent is activated (wherever it lives)."""
        if isinstance(id_or_type, AgentId):
            agent_id = id_or_type
        else:
            name = id_or_type.type if isinstance(id_or_type, AgentType) else id_or_type
            agent_id = AgentId(name, key)
        if not lazy:
            self._ensure_client()
            await self._access.activate(agent_id)
        return agent_id
