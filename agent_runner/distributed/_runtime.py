"""DistributedAgentRuntime: the core's MessageRuntime over Redis Streams.

Any number of worker processes, on any machines, run the same agent classes as
:class:`~agent_runner.core.SingleThreadedAgentRuntime`. Redis is the host: there is no
broker process of ours. The wire format is documented in ``docs/distributed.md``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agent_runner.backoff import backoff_delay
from agent_runner.core import (
    Agent,
    AgentId,
    AgentMetadata,
    AgentType,
    CancellationToken,
    InterventionHandler,
    MessageSerializer,
    Subscription,
)
from agent_runner.distributed._codec import PayloadCodec
from agent_runner.distributed._host import Host
from agent_runner.distributed._messaging import Messaging
from agent_runner.distributed._options import Options
from agent_runner.distributed._outbox import TRANSIENT_ERRORS, Outbox
from agent_runner.distributed._partitions import PartitionTable
from agent_runner.distributed._registry import Partition, Registry
from agent_runner.distributed._rpc import PendingCalls
from agent_runner.distributed._subscriptions import SubscriptionTable
from agent_runner.distributed._wire import (
    LOAD_STATE,
    METADATA,
    PROTOCOL_VERSION,
    SAVE_STATE,
    WAKE,
    Header,
    Keys,
    dump_header,
    partition_of,
)
from agent_runner.errors import (
    ConfigurationError,
    CoreError,
    NotAccessibleError,
)

logger = logging.getLogger(__name__)
T = TypeVar("T", bound=Agent)


class DistributedAgentRuntime(Messaging):
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
        worker_id: str | None = None,
        redis_options: Mapping[str, Any] | None = None,
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
        self.worker_id = worker_id or (
            f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        )
        kwargs: dict[str, Any] = {
            "socket_timeout": options.block + 10.0,
            "socket_connect_timeout": 5.0,
            "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), 3),
            "retry_on_error": [RedisConnectionError, RedisTimeoutError, ConnectionResetError],
            "client_name": f"agent-runner:{self.worker_id}",
        }
        kwargs.update(redis_options or {})
        try:
            self._client: redis.Redis = redis.Redis.from_url(redis_url, **kwargs)
        except ValueError as exc:
            raise ConfigurationError(f"invalid redis_url: {exc}") from exc
        self._keys = Keys(options.prefix)
        self._codec = PayloadCodec(max_payload_bytes=options.max_payload_bytes)
        self._outbox = Outbox(self._client, retry_for=options.retry_for)
        self._pending = PendingCalls(self.worker_id, self._abandon)
        self._subscriptions = SubscriptionTable(self._client, self._keys)
        self._registry = Registry(self._client, self._keys, self.worker_id)
        self._table = PartitionTable(
            self._client,
            self._keys,
            self._registry,
            options,
            on_released=self._on_released,
            nudge=self._nudge,
        )
        self._host = Host(
            self,
            self._client,
            self._keys,
            self._outbox,
            self._codec,
            self._table,
            options,
            self.worker_id,
        )
        self._host.on_rebalance = self._tick_soon
        self._interventions = list(intervention_handlers or ())
        self._instance_types: dict[str, type[Any]] = {}
        self._pinned: set[AgentId] = set()
        self._counts: dict[str, int] = {}
        self._reply_stream = self._keys.replies(self.worker_id)
        self._client_tasks: list[asyncio.Task[None]] = []
        self._host_tasks: list[asyncio.Task[None]] = []
        self._starting: asyncio.Task[None] | None = None
        self._tick_event = asyncio.Event()
        self._tick_lock = asyncio.Lock()
        self._reply_last: Any = None
        self._started = False
        self._closing = False
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
        if not self._client_tasks:
            self._outbox.start()
            self._client_tasks.append(asyncio.create_task(self._reply_loop(), name="replies"))

    def start(self) -> None:
        """Start hosting: heartbeats, partition ownership and the read loop (background)."""
        if self._started:
            raise RuntimeError("Runtime is already started")
        self._ensure_client()
        self._started = True
        self._host.resume()
        self._host_tasks.append(asyncio.create_task(self._tick_loop(), name="heartbeat"))
        self._host_tasks.append(
            asyncio.create_task(self._host.read_loop(self._client), name="read-loop")
        )

    async def stop(self) -> None:
        """Stop hosting: finish in-flight messages, release partitions to the other workers."""
        if not self._started:
            raise RuntimeError("Runtime is not started")
        self._started = False
        tick, read = self._host_tasks
        self._tick_event.set()
        await self._end(tick)
        await self._host.stop(self._options.shutdown_grace)
        self._wake_reader()
        await self._end(read)
        self._host_tasks.clear()
        await self._outbox.flush()
        peers = {w for live in self._table.members.values() for w in live} - {self.worker_id}
        try:
            await self._table.release_all()
            await self._registry.leave(list(self._host.factories))
        except TRANSIENT_ERRORS as exc:
            logger.warning("worker %s: could not release partitions: %r", self.worker_id, exc)
        for peer in peers:
            self._nudge(peer)
        await self._outbox.flush()

    async def stop_when_idle(self) -> None:
        """Stop once nothing is in flight here and the hosted types' streams are drained."""
        if not self._started:
            raise RuntimeError("Runtime is not started")
        while True:
            await self._outbox.flush()
            if self._host.inflight == 0 and not len(self._pending) and await self._drained():
                break
            await asyncio.sleep(0.01)
        await self.stop()

    async def stop_when(self, condition: Callable[[], bool], check_period: float = 0.05) -> None:
        """Stop once ``condition()`` is true (polled every ``check_period`` seconds)."""
        while True:
            if condition():
                break
            await asyncio.sleep(check_period)
        await self.stop()

    async def close(self) -> None:
        """Stop if started, close the agents, fail pending calls, disconnect."""
        if self._closed:
            return
        if self._started:
            await self.stop()
        await self._host.close_agents()
        self._pending.fail_all("the runtime closed")
        self._closing = True
        if self._client_tasks:
            wake: Header = {"v": PROTOCOL_VERSION, "kind": WAKE, "id": "close"}
            self._outbox.push("XADD", self._reply_stream, "*", "h", dump_header(wake), "d", b"")
            for task in self._client_tasks:
                await self._end(task)
        self._client_tasks.clear()
        if self._outbox_started():
            self._outbox.push("DEL", self._reply_stream, self._keys.control(self.worker_id))
        await self._outbox.close()
        self._closed = True
        await self._client.aclose()

    async def _end(self, task: asyncio.Task[None]) -> None:
        """Wait for a loop woken to see it must stop; cancel it if it does not."""
        done, _ = await asyncio.wait({task}, timeout=self._options.block + 2.0)
        if not done:
            task.cancel()
            await asyncio.wait({task}, timeout=2.0)
        if task.done() and not task.cancelled() and task.exception() is not None:
            logger.error("%s ended with %r", task.get_name(), task.exception())

    def _outbox_started(self) -> bool:
        return bool(self._outbox._task)

    @property
    def unprocessed_messages_count(self) -> int:
        """Messages read by this worker and not yet handled."""
        return self._host.inflight

    async def _drained(self) -> bool:
        pipe = self._client.pipeline(transaction=False)
        streams = []
        for agent_type in self._host.factories:
            count = self._table.partition_counts.get(agent_type) or self._counts.get(agent_type)
            for number in range(count or 0):
                streams.append(self._keys.inbox(agent_type, number))
                pipe.execute_command("XINFO", "GROUPS", streams[-1])
        if not streams:
            return True
        for result in await pipe.execute(raise_on_error=False):
            if isinstance(result, Exception):
                continue
            for group in result:
                if int(group.get("pending") or 0) or int(group.get("lag") or 0):
                    return False
        return True

    # -- heartbeats and ownership ----------------------------------------------------
    def _tick_soon(self) -> None:
        self._tick_event.set()

    async def _tick_loop(self) -> None:
        attempt = 0
        while self._started:
            try:
                await self._tick()
                attempt = 0
                delay = self._options.heartbeat_interval
            except TRANSIENT_ERRORS as exc:
                attempt += 1
                delay = backoff_delay(
                    attempt, base=0.05, cap=self._options.heartbeat_interval, jitter="equal"
                )
                logger.warning("worker %s: heartbeat failed (%r)", self.worker_id, exc)
            except Exception:
                logger.exception("worker %s: heartbeat step failed", self.worker_id)
                delay = self._options.heartbeat_interval
            if not self._started:
                break
            try:
                async with asyncio.timeout(delay):
                    await self._tick_event.wait()
            except TimeoutError:
                pass
            self._tick_event.clear()

    async def _tick(self) -> None:
        async with self._tick_lock:
            types = {t: self._options.partitions for t in self._host.factories}
            if types and self._started:
                changed = await self._table.step(types)
                self._counts.update(self._table.partition_counts)
                if changed:
                    self._wake_reader()
                for stream, floor in self._table.take_trims():
                    self._outbox.push("XTRIM", stream, "MINID", "~", floor)
            await self._subscriptions.reassert()
            if self._reply_last is not None:
                self._outbox.push("XTRIM", self._reply_stream, "MINID", "~", self._reply_last)
            keep = max(60_000, self._options.ttl_ms * 10)
            self._outbox.push("PEXPIRE", self._reply_stream, keep)
            self._outbox.push("PEXPIRE", self._keys.control(self.worker_id), keep)

    def _wake_reader(self) -> None:
        header: Header = {"v": PROTOCOL_VERSION, "kind": WAKE, "id": "partitions"}
        control = self._keys.control(self.worker_id)
        self._outbox.push(
            "XADD", control, "MAXLEN", "~", 100, "*", "h", dump_header(header), "d", b""
        )

    def _nudge(self, worker: str) -> None:
        header: Header = {"v": PROTOCOL_VERSION, "kind": WAKE, "id": "rebalance"}
        control = self._keys.control(worker)
        self._outbox.push(
            "XADD", control, "MAXLEN", "~", 100, "*", "h", dump_header(header), "d", b""
        )

    async def _on_released(self, partitions: set[Partition]) -> None:
        await self._host.deactivate(partitions, pinned=self._pinned)

    # -- registration ----------------------------------------------------------------
    async def register_factory(
        self,
        type: str | AgentType,
        agent_factory: Callable[[], T | Awaitable[T]],
        *,
        expected_class: type[T] | None = None,
    ) -> AgentType:
        """Host agents of ``type`` here, created by ``agent_factory`` on first message."""
        name = type.type if isinstance(type, AgentType) else type
        if name in self._host.factories:
            raise ValueError(f"Agent with type {name} already exists.")
        runtime = self

        async def make(agent_id: AgentId) -> Agent:
            if len(inspect.signature(agent_factory).parameters) == 2:
                made: Any = cast(Callable[[Any, AgentId], Any], agent_factory)(runtime, agent_id)
            else:
                made = agent_factory()
            if inspect.isawaitable(made):
                made = await made
            if expected_class is not None and not isinstance(made, expected_class):
                raise ValueError(
                    f"Factory registered using the wrong type: expected "
                    f"{expected_class.__name__}, got {made.__class__.__name__}"
                )
            return cast(Agent, made)

        self._host.factories[name] = make
        await self._advertise(name)
        return AgentType(name)

    async def register_agent_instance(self, agent_instance: Agent, agent_id: AgentId) -> AgentId:
        """Host one agent instance here (its type should be hosted by this worker only)."""
        if agent_id in self._host.agents:
            raise ValueError(f"Agent with id {agent_id} already exists.")
        known = self._instance_types.get(agent_id.type)
        if agent_id.type in self._host.factories and known is None:
            raise ValueError(
                "Agent factories and agent instances cannot be registered to the same type."
            )
        if known is not None and known is not agent_instance.__class__:
            raise ValueError("Agent instances must be the same object type.")
        await agent_instance.bind_id_and_runtime(id=agent_id, runtime=self)
        self._host.agents[agent_id] = agent_instance
        self._pinned.add(agent_id)
        if known is None:
            self._instance_types[agent_id.type] = agent_instance.__class__

            async def no_factory(missing: AgentId) -> Agent:
                raise LookupError(f"no agent instance {missing} is registered on this worker")

            self._host.factories[agent_id.type] = no_factory
            await self._advertise(agent_id.type)
        return agent_id

    async def _advertise(self, agent_type: str) -> None:
        self._ensure_client()
        if self._started:
            await self._tick()
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
    async def _control(self, kind: str, agent: AgentId, data: bytes = b"") -> Any:
        self._ensure_client()
        header: Header = {"kind": kind}
        return await self._request(
            header, agent, data, None, CancellationToken(), str(uuid.uuid4())
        )

    async def agent_metadata(self, agent: AgentId) -> AgentMetadata:
        """The agent's metadata, asked of the worker where it is active."""
        return cast(AgentMetadata, await self._control(METADATA, agent))

    async def agent_save_state(self, agent: AgentId) -> Mapping[str, Any]:
        """The agent's state, asked of the worker where it is active (in message order)."""
        return cast(Mapping[str, Any], await self._control(SAVE_STATE, agent))

    async def agent_load_state(self, agent: AgentId, state: Mapping[str, Any]) -> None:
        """Load a state into the agent, on the worker where it is active (in message order)."""
        await self._control(LOAD_STATE, agent, json.dumps(dict(state)).encode())

    async def save_state(self) -> Mapping[str, Any]:
        """Saved states of the agents of the types hosted here, keyed ``type/key``.

        Agents active on this worker report their current state; others their last saved.
        """
        self._ensure_client()
        out: dict[str, Any] = {}
        for agent_type in self._host.factories:
            saved = await self._client.hgetall(self._keys.state(agent_type))
            for key, raw in saved.items():
                name = key.decode() if isinstance(key, bytes) else str(key)
                out[f"{agent_type}/{name}"] = json.loads(raw)
        for agent_id, agent in list(self._host.agents.items()):
            out[str(agent_id)] = dict(await agent.save_state())
        return out

    async def load_state(self, state: Mapping[str, Any]) -> None:
        """Load every ``type/key`` state, each on the worker where the agent is active."""
        for name, agent_state in state.items():
            agent_id = AgentId.from_str(name)
            if await self._count_of(agent_id.type) is None:
                logger.warning("load_state: no agent type %r is registered; skipped", agent_id.type)
                continue
            await self.agent_load_state(agent_id, agent_state)

    async def try_get_underlying_agent_instance(
        self,
        id: AgentId,
        type: type[T] = Agent,  # type: ignore[assignment]
    ) -> T:
        """The local agent object; NotAccessibleError when it is active on another worker."""
        if id.type not in self._host.factories:
            raise LookupError(f"Agent with name {id.type} not found.")
        if id not in self._host.agents and not await self._owned_here(id):
            raise NotAccessibleError(f"{id} is active on another worker, not on {self.worker_id}")
        agent = await self._host.get_agent(id)
        if not isinstance(agent, type):
            raise TypeError(
                f"Agent with name {id.type} is not of type {type.__name__}. "
                f"It is of type {agent.__class__.__name__}"
            )
        return agent

    async def _owned_here(self, id: AgentId) -> bool:
        count = await self._count_of(id.type)
        if count is None:
            return False
        key = (id.type, partition_of(id.key, count))
        if not self._table.owns(key) and self._started:
            await self._tick()
        return self._table.owns(key)

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
            if agent_id.type in self._host.factories and await self._owned_here(agent_id):
                await self._host.get_agent(agent_id)
            else:
                await self.agent_metadata(agent_id)
        return agent_id
