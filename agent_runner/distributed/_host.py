"""Host: the worker side of the distributed runtime, from a message read to its ack.

Messages read from the owned partitions (by its :class:`PartitionReader`) go to the mailbox of
their agent: one agent handles one message at a time, in stream order (agents of a class with
``concurrent_handling`` start each message at once). A call that comes back to an agent
waiting in the same call chain (A asks B, B asks A, across workers) runs at once instead of
deadlocking: RPC headers carry the chain. After a handler returns, its reply, the agent's
changed state and the ``XACK`` go out together in the next pipeline.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import redis.asyncio as redis

from agent_runner.core import (
    Agent,
    AgentId,
    CancellationToken,
    MessageContext,
    MessageHandlerContext,
    TopicId,
)
from agent_runner.distributed._codec import PayloadCodec
from agent_runner.distributed._eager import start_eagerly
from agent_runner.distributed._hosted_agents import HostedAgents
from agent_runner.distributed._options import Options
from agent_runner.distributed._outbox import Outbox
from agent_runner.distributed._partition_reader import PartitionReader
from agent_runner.distributed._partitions import PartitionState, PartitionTable
from agent_runner.distributed._registry import Partition
from agent_runner.distributed._rpc import CALL_CHAIN
from agent_runner.distributed._stream_message import Encoded, StreamMessage
from agent_runner.distributed._watermarks import Watermarks
from agent_runner.distributed._wire import (
    CANCEL,
    EVENT,
    GROUP,
    JSON_CONTENT_TYPE,
    LOAD_STATE,
    METADATA,
    RPC,
    SAVE_STATE,
    Keys,
    entry_messages,
    load_header,
)
from agent_runner.errors import SerializationError
from agent_runner.tracing import spans

logger = logging.getLogger(__name__)

YIELD_EVERY = 64
"""Handlers that never wait run back to back; after this many a drain yields to the loop, so
the writer sends the replies so far and callers decode them while the next are handled."""


class _Mailbox:
    __slots__ = ("queue", "running")

    def __init__(self) -> None:
        self.queue: deque[StreamMessage] = deque()
        self.running = False


class Host:
    """Dispatches, handles and acknowledges the messages of the partitions a worker owns.

    Args:
        agents: The hosted types and their live agents.
        on_rebalance: Called when a partition being given up has no message in hand any more.
        keep_event_errors: Keep the first exception of an event handler for
            :meth:`raise_background_exception` (else only log it).
    """

    def __init__(
        self,
        agents: HostedAgents,
        table: PartitionTable,
        outbox: Outbox,
        codec: PayloadCodec,
        keys: Keys,
        options: Options,
        *,
        worker_id: str,
        on_rebalance: Callable[[], None],
        keep_event_errors: bool = False,
    ) -> None:
        self.agents = agents
        self._outbox = outbox
        self._codec = codec
        self._options = options
        self.worker_id = worker_id
        self._on_rebalance = on_rebalance
        self._watermarks = Watermarks(outbox, keys)
        self._mailboxes: dict[AgentId, _Mailbox] = {}
        self._tokens: dict[str, CancellationToken] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unyielded = 0  # messages handled in turn since a drain last let the loop run
        self.inflight = 0
        """Messages read and not yet finished (handled, or released at stop)."""
        self._capacity = asyncio.Event()
        self._capacity.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.stopping = False
        self._keep_event_errors = keep_event_errors
        self._background_exception: Exception | None = None
        self.reader = PartitionReader(
            self, table, outbox, keys, options, worker_id=worker_id, on_rebalance=on_rebalance
        )

    # -- reading ---------------------------------------------------------------------
    @property
    def full(self) -> bool:
        """Whether ``max_inflight`` messages are in hand (read no more for now)."""
        return self.inflight >= self._options.max_inflight

    async def wait_for_room(self) -> None:
        """Return once a message in hand is finished (or the host stops)."""
        self._capacity.clear()
        await self._capacity.wait()

    def dispatch(
        self, part: PartitionState, entry_id: bytes, fields: Any, replayed: bool = False
    ) -> None:
        """Take the messages of one stream entry: each to its agent's mailbox."""
        if entry_id in part.inflight:
            return  # re-read of an entry still in hand
        messages: list[tuple[AgentId, StreamMessage]] = []
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
            message = StreamMessage(part, entry_id, header, data, index, replayed)
            try:
                agent_id = AgentId.from_str(header.get("to", ""))
            except ValueError as exc:
                error = SerializationError(f"bad recipient: {exc}")
                answer = message.answer(None, error, worker=self.worker_id)
                if answer is not None:  # answer what cannot be delivered at all
                    self._outbox.push(*answer)
                continue
            rid = header.get("rid")
            if rid is not None:  # from now on, so a cancel read before the handler starts counts
                self._tokens[rid] = CancellationToken()
            messages.append((agent_id, message))
        if not messages:
            self._outbox.ack(part.stream, entry_id)
            return
        part.inflight[entry_id] = len(messages)
        self.inflight += len(messages)
        self._idle.clear()
        for agent_id, message in messages:
            chain = message.header.get("chain")
            if isinstance(chain, list) and str(agent_id) in chain:
                message.in_order = False
                self._spawn(self._handle(agent_id, message))
                continue
            box = self._mailboxes.get(agent_id)
            if box is None:
                box = self._mailboxes[agent_id] = _Mailbox()
            box.queue.append(message)
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
                message = box.queue.popleft()
                agent = self.agents.agents.get(agent_id)
                if agent is None:
                    try:
                        agent = await self.agents.get(agent_id)
                    except Exception:
                        agent = None  # _handle reports the error to the caller
                if agent is not None and getattr(type(agent), "concurrent_handling", False):
                    message.in_order = False
                    self._spawn(self._handle(agent_id, message))
                else:
                    await self._handle(agent_id, message)
                    self._unyielded += 1
                    if self._unyielded >= YIELD_EVERY:
                        self._unyielded = 0
                        await asyncio.sleep(0)
        finally:
            box.running = False
            if not box.queue:
                self._mailboxes.pop(agent_id, None)

    # -- handling --------------------------------------------------------------------
    async def _handle(self, agent_id: AgentId, message: StreamMessage) -> None:
        header = message.header
        kind = header["kind"]
        rid = header.get("rid")
        reply: Encoded | None = None
        error: BaseException | None = None
        agent: Agent | None = None
        if message.replayed and await self._watermarks.handled_before(agent_id, message):
            if rid is not None:
                self._tokens.pop(rid, None)
            await self._finish(message, [])
            return
        try:
            agent = await self.agents.get(agent_id)
            if kind == RPC or kind == EVENT:
                reply = await self._deliver(agent, agent_id, message)
            elif kind == SAVE_STATE:
                state = await agent.save_state()
                reply = ("dict", JSON_CONTENT_TYPE, json.dumps(dict(state)).encode())
            elif kind == LOAD_STATE:
                await agent.load_state(json.loads(message.data))
                reply = self._codec.encode(None)
            elif kind == METADATA:
                reply = ("dict", JSON_CONTENT_TYPE, json.dumps(dict(agent.metadata)).encode())
            else:
                raise SerializationError(f"unknown message kind {kind!r}")
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if self.stopping or (task is not None and task.cancelling()):
                self._release_inflight(message)
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
            if (
                self._keep_event_errors
                and self._background_exception is None
                and isinstance(error, Exception)
            ):
                self._background_exception = error
        commands: list[tuple[Any, ...]] = []
        if agent is not None:
            saved = await self.agents.state_command(agent_id, agent)
            if saved is not None:
                commands.append(saved)
        if rid is not None:
            self._tokens.pop(rid, None)
        answer = message.answer(reply, error, worker=self.worker_id)
        if answer is not None:
            commands.append(answer)
        if message.in_order:
            self._watermarks.advance(agent_id, message.mark)
            await self._finish(message, commands, agent_id)
        else:
            await self._finish(message, commands)

    async def _deliver(
        self, agent: Agent, agent_id: AgentId, message: StreamMessage
    ) -> Encoded | None:
        header = message.header
        codec = self._codec
        type_name = header.get("type", "")
        codec.check_size(len(message.data), type_name)
        payload = codec.decode(type_name, header.get("ct", JSON_CONTENT_TYPE), message.data)
        rid = header.get("rid")
        token = self._tokens.get(rid) if rid is not None else None
        if token is None:
            token = CancellationToken()
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
        chain, trace = header.get("chain"), spans.extract(header)  # the sender's trace
        outer = tuple(chain) if isinstance(chain, list) else ()
        reset = CALL_CHAIN.set((*outer, str(agent_id)))
        try:
            with MessageHandlerContext.populate_context(agent_id), spans.attach(trace):
                result = await agent.on_message(payload, ctx)
        finally:
            CALL_CHAIN.reset(reset)
        return codec.encode(result) if is_rpc else None

    async def _finish(
        self,
        message: StreamMessage,
        commands: list[tuple[Any, ...]],
        agent_id: AgentId | None = None,
    ) -> None:
        """Send the commands of a handled message, its watermark and (last one) the ack."""
        part = message.part
        last = part.inflight.get(message.entry_id, 1) <= 1  # the entry's last message
        seen = None
        if agent_id is not None and not last:
            # Only an entry acked later can be read again with this message in it.
            seen = self._watermarks.stored(agent_id, message.mark)
        sent = None
        if self.inflight == 1 and last:  # nothing else waits: send from here, not the writer
            tail = [("HSET", *seen)] if seen is not None else []
            ack = ("XACK", part.stream, GROUP, message.entry_id)
            sent = await self._outbox.send_now(*commands, *tail, ack)
        if sent is None:
            for command in commands:
                self._outbox.push(*command)
            if seen is not None:
                self._outbox.mark(*seen)
            if last:
                self._outbox.ack(part.stream, message.entry_id)
        self._release_inflight(message)

    def _release_inflight(self, message: StreamMessage) -> None:
        part = message.part
        left = part.inflight.get(message.entry_id)
        if left is None:
            return
        if left <= 1:
            del part.inflight[message.entry_id]
        else:
            part.inflight[message.entry_id] = left - 1
        self.inflight -= 1
        if self.inflight < self._options.max_inflight:
            self._capacity.set()
        if self.inflight == 0:
            self._idle.set()
        if part.draining and not part.inflight:
            self._on_rebalance()

    # -- partitions given up ---------------------------------------------------------
    async def release_agents(self, partitions: set[Partition]) -> None:
        """Close the idle agents of partitions given up (they come back with their state)."""
        busy = self._mailboxes.__contains__
        for agent_id in await self.agents.deactivate(partitions, busy=busy):
            self._watermarks.forget(agent_id)

    # -- lifecycle -------------------------------------------------------------------
    def raise_background_exception(self) -> None:
        """Raise (once) the first event-handler exception kept since the last call."""
        error, self._background_exception = self._background_exception, None
        if error is not None:
            raise error

    async def wait_idle(self, grace: float) -> bool:
        try:
            async with asyncio.timeout(grace):
                await self._idle.wait()
            return True
        except TimeoutError:
            return False

    def start(self, client: redis.Redis) -> None:
        """Start reading (again, after :meth:`stop`)."""
        self.stopping = False
        self.reader.start(client)

    async def stop(self, grace: float) -> None:
        """Finish in-flight messages (up to ``grace`` seconds), cancel the rest, stop reading."""
        if not await self.wait_idle(grace):
            logger.warning(
                "worker %s: %d messages unfinished at stop", self.worker_id, self.inflight
            )
        self.stopping = True
        self._capacity.set()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._mailboxes.clear()
        await self.reader.stop()


__all__ = ["Host"]
