"""The worker side: one XREADGROUP loop, per-agent mailboxes, handling, replies and acks.

Entries read from the owned partitions go to the mailbox of their agent: one agent handles
one message at a time, in stream order (agents of a class with ``concurrent_handling`` start
each message at once). A call that comes back to an agent waiting in the same call chain
(A asks B, B asks A, across workers) runs at once instead of deadlocking: RPC headers carry
the chain. After a handler returns, its reply, the agent's changed state and the ``XACK`` go
out together in the next pipeline.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import redis.asyncio as redis
from redis.exceptions import ResponseError

from agent_runner.backoff import backoff_delay
from agent_runner.core import (
    Agent,
    AgentId,
    AgentInstantiationContext,
    BaseAgent,
    CancellationToken,
    MessageContext,
    MessageHandlerContext,
    TopicId,
)
from agent_runner.distributed._claim import ensure_group
from agent_runner.distributed._codec import PayloadCodec
from agent_runner.distributed._eager import start_eagerly
from agent_runner.distributed._link import Link
from agent_runner.distributed._options import Options
from agent_runner.distributed._outbox import TRANSIENT_ERRORS, Outbox
from agent_runner.distributed._partitions import PartitionState, PartitionTable
from agent_runner.distributed._registry import Partition
from agent_runner.distributed._wire import (
    CANCEL,
    ERROR,
    EVENT,
    GROUP,
    JSON_CONTENT_TYPE,
    LOAD_STATE,
    METADATA,
    REPLY,
    RPC,
    SAVE_STATE,
    WAKE,
    Header,
    Keys,
    dump_header,
    entry_messages,
    error_info,
    load_header,
    partition_of,
    stream_entries,
)
from agent_runner.errors import SerializationError

if TYPE_CHECKING:
    from agent_runner.core import MessageRuntime

logger = logging.getLogger(__name__)

AgentFactory = Callable[[AgentId], Awaitable[Agent]]


Mark = tuple[int, int, int]
"""Position of a message in its partition: (entry ms, entry seq, index in the entry)."""


def parse_mark(text: bytes | str) -> Mark | None:
    """``"ms-seq:index"`` -> Mark (None when malformed)."""
    raw = text.decode() if isinstance(text, bytes) else text
    entry, _, index = raw.partition(":")
    ms, _, seq = entry.partition("-")
    try:
        return int(ms), int(seq or 0), int(index or 0)
    except ValueError:
        return None


class Delivery:
    __slots__ = ("data", "entry_id", "header", "in_order", "mark", "part", "replayed")

    def __init__(
        self,
        part: PartitionState,
        entry_id: bytes,
        header: Header,
        data: bytes,
        index: int = 0,
        replayed: bool = False,
    ) -> None:
        self.part = part
        self.entry_id = entry_id
        self.header = header
        self.data = data
        ms, _, seq = entry_id.partition(b"-")
        self.mark: Mark = (int(ms), int(seq or 0), index)
        self.replayed = replayed
        """Read again (claimed, or re-read after a restart): may have been handled before."""
        self.in_order = True
        """Handled in its agent's turn order (not a reentrant call or a concurrent handler):
        only then does it move the agent's watermark."""


class _Mailbox:
    __slots__ = ("queue", "running")

    def __init__(self) -> None:
        self.queue: deque[Delivery] = deque()
        self.running = False


CALL_CHAIN: ContextVar[tuple[str, ...]] = ContextVar("agent_runner_distributed_chain", default=())
"""The agents (``type/key``) whose handlers wait in the current call chain, outermost first."""


def _has_own_state(agent: Agent) -> bool:
    save = getattr(type(agent), "save_state", None)
    return save is not None and save is not BaseAgent.save_state


class Host:
    """Hosts agent types for one runtime: reads, dispatches, handles, acknowledges."""

    def __init__(
        self,
        runtime: MessageRuntime,
        client: redis.Redis,
        keys: Keys,
        outbox: Outbox,
        codec: PayloadCodec,
        table: PartitionTable,
        options: Options,
        worker_id: str,
    ) -> None:
        self._runtime = runtime
        self._client = client
        self._keys = keys
        self._outbox = outbox
        self._codec = codec
        self.table = table
        self._options = options
        self.worker_id = worker_id
        self.factories: dict[str, AgentFactory] = {}
        self.agents: dict[AgentId, Agent] = {}
        self._activating: dict[AgentId, asyncio.Future[Agent]] = {}
        self._saved: dict[AgentId, str] = {}
        self._marks: dict[AgentId, Mark] = {}
        """Last handled message per agent (also in ``{p}:seen:{type}``): replays below it are
        skipped, so a crash re-delivers only the messages whose mark was not yet written."""
        self._mailboxes: dict[AgentId, _Mailbox] = {}
        self._tokens: dict[str, CancellationToken] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.inflight = 0
        self._capacity = asyncio.Event()
        self._capacity.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self.on_rebalance: Callable[[], None] = lambda: None
        self._read_streams: dict[bytes, bytes | str] = {}
        self._read_packed: list[bytes] | None = None

    # -- agents ----------------------------------------------------------------------
    async def get_agent(self, agent_id: AgentId) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is not None:
            return agent
        pending = self._activating.get(agent_id)
        if pending is not None:
            return await asyncio.shield(pending)
        factory = self.factories.get(agent_id.type)
        if factory is None:
            raise LookupError(f"Agent type {agent_id.type!r} is not hosted by {self.worker_id}")
        future: asyncio.Future[Agent] = asyncio.get_running_loop().create_future()
        self._activating[agent_id] = future
        try:
            with AgentInstantiationContext.populate_context((self._runtime, agent_id)):
                agent = await factory(agent_id)
            saved = await self._outbox.call("HGET", self._keys.state(agent_id.type), agent_id.key)
            if saved is not None:
                text = saved.decode() if isinstance(saved, bytes) else str(saved)
                await agent.load_state(json.loads(text))
                self._saved[agent_id] = text
            self.agents[agent_id] = agent
            future.set_result(agent)
            return agent
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it through shield
            raise
        finally:
            del self._activating[agent_id]

    async def deactivate(self, partitions: set[Partition], *, pinned: set[AgentId]) -> None:
        """Close the agents of partitions given up: their state is re-read on return."""
        counts = self.table.partition_counts
        for agent_id in list(self.agents):
            if agent_id in pinned:
                continue
            count = counts.get(agent_id.type)
            if count and (agent_id.type, partition_of(agent_id.key, count)) in partitions:
                if agent_id in self._mailboxes:
                    continue
                agent = self.agents.pop(agent_id)
                self._saved.pop(agent_id, None)
                self._marks.pop(agent_id, None)
                try:
                    await agent.close()
                except Exception:
                    logger.exception("closing agent %s failed", agent_id)

    # -- read loop -------------------------------------------------------------------
    async def read_loop(self, read_client: redis.Redis) -> None:
        """Read owned partitions and the control stream until :meth:`stop`; never dies."""
        attempt = 0
        link = Link(read_client)
        try:
            while not self._stopping:
                try:
                    await self._read_once(link)
                    attempt = 0
                except TRANSIENT_ERRORS as exc:
                    attempt += 1
                    delay = backoff_delay(attempt, base=0.05, cap=2.0, jitter="equal")
                    logger.warning(
                        "worker %s: redis unavailable (%r), retry in %.2fs",
                        self.worker_id,
                        exc,
                        delay,
                    )
                    await asyncio.sleep(delay)
                except Exception:
                    logger.exception("worker %s: read loop step failed", self.worker_id)
                    await asyncio.sleep(self._options.heartbeat_interval)
        finally:
            await link.close()

    async def _read_once(self, link: Link) -> None:
        control = self._keys.control(self.worker_id)
        control_b = control.encode()
        if self.inflight >= self._options.max_inflight:
            self._capacity.clear()
            await self._capacity.wait()
            return
        # bytes keys and ids: redis-py packs them without encoding (17+ streams per read)
        streams: dict[bytes, bytes | str] = {control_b: b">"}
        for part in self.table.readable():
            streams[part.stream_b] = b">" if part.cursor == ">" else part.cursor
        if streams != self._read_streams or self._read_packed is None:
            # packed once for as long as the owned partitions and cursors stay the same
            self._read_packed = link.pack(
                "XREADGROUP",
                "GROUP",
                GROUP,
                self.worker_id,
                "COUNT",
                self._options.read_count,
                "BLOCK",
                self._options.block_ms,
                "STREAMS",
                *streams,
                *streams.values(),
            )
            self._read_streams = streams
        try:
            response = await link.execute_packed(self._read_packed, "XREADGROUP")
        except ResponseError as exc:
            if "NOGROUP" not in str(exc) and "UNBLOCKED" not in str(exc):
                raise
            for name in streams:  # Redis lost them (restarted without persistence)
                await ensure_group(self._client, name.decode(), "$" if name == control_b else "0")
            return
        for stream, entries in stream_entries(response):
            if stream == control_b:
                self._on_control(control, entries)
                continue
            owned = self.table.by_stream.get(stream)
            if owned is None or owned.draining:
                continue  # lost meanwhile: the entries stay pending for the next owner
            replayed = owned.cursor != ">"
            if replayed:
                if not entries:
                    owned.cursor = ">"
                    continue
                owned.cursor = entries[-1][0].decode()
            for entry_id, fields in entries:
                owned.last_read = entry_id
                self._dispatch(owned, entry_id, fields, replayed)

    def _on_control(self, control: str, entries: list[Any]) -> None:
        for entry_id, fields in entries:
            self._outbox.ack(control, entry_id)
            try:
                header = load_header(fields[b"h"])
            except (ValueError, KeyError, TypeError):
                continue
            if header.get("kind") == WAKE and header.get("id") == "rebalance":
                self.on_rebalance()

    def _dispatch(
        self, part: PartitionState, entry_id: bytes, fields: Any, replayed: bool = False
    ) -> None:
        if entry_id in part.inflight:
            return  # re-read of an entry still in hand
        deliveries: list[tuple[AgentId, Delivery]] = []
        for index, (raw, data) in enumerate(entry_messages(fields) if fields else []):
            try:
                header = load_header(raw)
            except (ValueError, TypeError) as exc:
                logger.error("%s %s: malformed envelope dropped: %s", part.stream, entry_id, exc)
                continue
            if header["kind"] == CANCEL:
                token = self._tokens.get(header.get("rid", ""))
                if token is not None:
                    token.cancel()
                continue
            delivery = Delivery(part, entry_id, header, data, index, replayed)
            try:
                agent_id = AgentId.from_str(header.get("to", ""))
            except ValueError as exc:
                self._refuse(delivery, SerializationError(f"bad recipient: {exc}"))
                continue
            deliveries.append((agent_id, delivery))
        if not deliveries:
            self._outbox.ack(part.stream, entry_id)
            return
        part.inflight[entry_id] = len(deliveries)
        self.inflight += len(deliveries)
        self._idle.clear()
        for agent_id, delivery in deliveries:
            chain = delivery.header.get("chain")
            if isinstance(chain, list) and str(agent_id) in chain:
                delivery.in_order = False
                self._spawn(self._handle(agent_id, delivery))
                continue
            box = self._mailboxes.get(agent_id)
            if box is None:
                box = self._mailboxes[agent_id] = _Mailbox()
            box.queue.append(delivery)
            if not box.running:
                box.running = True
                self._spawn(self._drain(agent_id, box))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Start a handler at once; it becomes a task only if it has to wait."""
        try:
            task = start_eagerly(coro)
        except Exception:
            logger.exception("worker %s: handler failed to start", self.worker_id)
            return
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _drain(self, agent_id: AgentId, box: _Mailbox) -> None:
        try:
            while box.queue:
                delivery = box.queue.popleft()
                agent = self.agents.get(agent_id)
                if agent is None:
                    try:
                        agent = await self.get_agent(agent_id)
                    except Exception:
                        agent = None  # _handle reports the error to the caller
                if agent is not None and getattr(type(agent), "concurrent_handling", False):
                    delivery.in_order = False
                    self._spawn(self._handle(agent_id, delivery))
                else:
                    await self._handle(agent_id, delivery)
        finally:
            box.running = False
            if not box.queue:
                self._mailboxes.pop(agent_id, None)

    # -- handling --------------------------------------------------------------------
    async def _handle(self, agent_id: AgentId, delivery: Delivery) -> None:
        header = delivery.header
        kind = header["kind"]
        rid = header.get("rid")
        reply: tuple[str, str, bytes] | None = None
        error: BaseException | None = None
        agent: Agent | None = None
        if delivery.replayed and await self._handled_before(agent_id, delivery):
            await self._finish(delivery, [])
            return
        try:
            agent = await self.get_agent(agent_id)
            if kind == RPC or kind == EVENT:
                reply = await self._deliver(agent, agent_id, delivery)
            elif kind == SAVE_STATE:
                state = await agent.save_state()
                reply = ("dict", JSON_CONTENT_TYPE, json.dumps(dict(state)).encode())
            elif kind == LOAD_STATE:
                await agent.load_state(json.loads(delivery.data))
                reply = self._codec.encode(None)
            elif kind == METADATA:
                reply = ("dict", JSON_CONTENT_TYPE, json.dumps(dict(agent.metadata)).encode())
            else:
                raise SerializationError(f"unknown message kind {kind!r}")
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if self._stopping or (task is not None and task.cancelling()):
                self._release_inflight(delivery)
                raise
            error = exc
        except Exception as exc:
            error = exc
        if error is not None and kind == EVENT:
            logger.error(
                "agent %s failed on event %s (message %s)",
                agent_id,
                header.get("type"),
                header.get("id"),
                exc_info=error,
            )
        commands: list[tuple[Any, ...]] = []
        if agent is not None and _has_own_state(agent):
            saved = await self._state_command(agent_id, agent)
            if saved is not None:
                commands.append(saved)
        if rid is not None:
            self._tokens.pop(rid, None)
        answer = self._reply_command(delivery, reply, error)
        if answer is not None:
            commands.append(answer)
        if delivery.in_order:
            self._marks[agent_id] = delivery.mark
            await self._finish(delivery, commands, agent_id)
        else:
            await self._finish(delivery, commands)

    async def _finish(
        self, delivery: Delivery, commands: list[tuple[Any, ...]], agent_id: AgentId | None = None
    ) -> None:
        """Send the commands of a handled message, its watermark and (last one) the ack."""
        part = delivery.part
        last = part.inflight.get(delivery.entry_id, 1) <= 1  # the entry's last message
        seen = None
        if agent_id is not None and not last:
            # Only an entry acked later can be read again with this message in it.
            ms, seq, index = delivery.mark
            seen = (self._keys.seen(agent_id.type), agent_id.key, f"{ms}-{seq}:{index}")
        sent = None
        if self.inflight == 1 and last:  # nothing else waits: send from here, not the writer
            tail = [("HSET", *seen)] if seen is not None else []
            ack = ("XACK", part.stream, GROUP, delivery.entry_id)
            sent = await self._outbox.send_now(*commands, *tail, ack)
        if sent is None:
            for command in commands:
                self._outbox.push(*command)
            if seen is not None:
                self._outbox.mark(*seen)
            if last:
                self._outbox.ack(part.stream, delivery.entry_id)
        self._release_inflight(delivery)

    async def _handled_before(self, agent_id: AgentId, delivery: Delivery) -> bool:
        """Whether the agent's watermark shows this (replayed) message already handled."""
        mark = self._marks.get(agent_id)
        if mark is None:
            raw = await self._outbox.call("HGET", self._keys.seen(agent_id.type), agent_id.key)
            mark = parse_mark(raw) if raw is not None else None
            if mark is None:
                return False
            self._marks[agent_id] = mark
        return delivery.mark <= mark

    async def _deliver(
        self, agent: Agent, agent_id: AgentId, delivery: Delivery
    ) -> tuple[str, str, bytes] | None:
        header = delivery.header
        codec = self._codec
        type_name = header.get("type", "")
        codec.check_size(len(delivery.data), type_name)
        message = codec.decode(type_name, header.get("ct", JSON_CONTENT_TYPE), delivery.data)
        token = CancellationToken()
        rid = header.get("rid")
        if rid is not None:
            self._tokens[rid] = token
        sender = header.get("sender")
        topic = header.get("topic")
        is_rpc = header["kind"] == RPC
        ctx = MessageContext(
            sender=AgentId.from_str(sender) if sender else None,
            topic_id=TopicId(topic[0], topic[1]) if topic else None,
            is_rpc=is_rpc,
            cancellation_token=token,
            message_id=header.get("id"),
        )
        chain = header.get("chain")
        outer = tuple(chain) if isinstance(chain, list) else ()
        reset = CALL_CHAIN.set((*outer, str(agent_id)))
        try:
            with MessageHandlerContext.populate_context(agent_id):
                result = await agent.on_message(message, ctx)
        finally:
            CALL_CHAIN.reset(reset)
        return codec.encode(result) if is_rpc else None

    async def _state_command(self, agent_id: AgentId, agent: Agent) -> tuple[Any, ...] | None:
        """``HSET`` of the agent's state when it changed since it was last saved."""
        try:
            state = await agent.save_state()
            text = json.dumps(dict(state), sort_keys=True, separators=(",", ":"))
        except Exception:
            logger.exception("agent %s: save_state failed; state not persisted", agent_id)
            return None
        if self._saved.get(agent_id) == text:
            return None
        self._saved[agent_id] = text
        return ("HSET", self._keys.state(agent_id.type), agent_id.key, text)

    def _reply_command(
        self, delivery: Delivery, reply: tuple[str, str, bytes] | None, error: BaseException | None
    ) -> tuple[Any, ...] | None:
        """The ``XADD`` of the reply or error to the caller's stream (None for events)."""
        header = delivery.header
        rid = header.get("rid")
        reply_to = header.get("reply_to")
        if rid is None or not reply_to or header["kind"] == EVENT:
            return None
        out: Header = {"v": 1, "rid": rid, "worker": self.worker_id}
        data = b""
        if error is not None:
            out["kind"] = ERROR
            out["error"] = error_info(error)
            out["to"] = header.get("to", "")
        else:
            if reply is None:
                reply = ("null", JSON_CONTENT_TYPE, b"null")
            out["kind"] = REPLY
            out["type"], out["ct"], data = reply
        return ("XADD", reply_to, "*", "h", dump_header(out), "d", data)

    def _refuse(self, delivery: Delivery, error: BaseException) -> None:
        """Answer a message that cannot be delivered at all."""
        answer = self._reply_command(delivery, None, error)
        if answer is not None:
            self._outbox.push(*answer)

    def _release_inflight(self, delivery: Delivery) -> None:
        part = delivery.part
        left = part.inflight.get(delivery.entry_id)
        if left is None:
            return
        if left <= 1:
            del part.inflight[delivery.entry_id]
        else:
            part.inflight[delivery.entry_id] = left - 1
        self.inflight -= 1
        if self.inflight < self._options.max_inflight:
            self._capacity.set()
        if self.inflight == 0:
            self._idle.set()
        if part.draining and not part.inflight:
            self.on_rebalance()

    # -- lifecycle -------------------------------------------------------------------
    async def wait_idle(self, grace: float) -> bool:
        try:
            async with asyncio.timeout(grace):
                await self._idle.wait()
            return True
        except TimeoutError:
            return False

    async def stop(self, grace: float) -> None:
        """Finish in-flight messages (up to ``grace`` seconds), then cancel the rest."""
        if not await self.wait_idle(grace):
            logger.warning(
                "worker %s: %d messages unfinished at stop", self.worker_id, self.inflight
            )
        self._stopping = True
        self._capacity.set()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._mailboxes.clear()

    def resume(self) -> None:
        """Allow reading again after :meth:`stop` (the runtime is started again)."""
        self._stopping = False

    async def close_agents(self) -> None:
        agents, self.agents = self.agents, {}
        for agent in agents.values():
            await agent.close()
