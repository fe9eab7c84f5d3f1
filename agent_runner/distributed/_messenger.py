"""Messenger: the caller side of the distributed runtime (RPCs, publishes and their replies).

An RPC is an ``XADD`` of a ``rpc`` entry to the recipient's partition stream; its reply comes
back on this runtime's own reply stream, read with one blocking ``XREAD`` loop. A publish
writes one ``event`` entry per subscriber, checked against the subscription version in one
Lua script. See docs/concepts/distributed.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import redis.asyncio as redis

from agent_runner.backoff import backoff_delay
from agent_runner.core import (
    AccessPolicy,
    AgentId,
    CancellationToken,
    DropMessage,
    InterventionHandler,
    MessageContext,
    TopicId,
)
from agent_runner.distributed._codec import PayloadCodec
from agent_runner.distributed._distributed_errors import remote_exception
from agent_runner.distributed._link import Link
from agent_runner.distributed._loops import end_loop
from agent_runner.distributed._options import Options
from agent_runner.distributed._outbox import TRANSIENT_ERRORS, Outbox
from agent_runner.distributed._partition_counts import PartitionCounts
from agent_runner.distributed._rpc import CALL_CHAIN, Call, PendingCalls
from agent_runner.distributed._stats import DistributedStats
from agent_runner.distributed._subscriptions import PUBLISH_SCRIPT, SubscriptionTable
from agent_runner.distributed._wire import (
    CANCEL,
    ERROR,
    EVENT,
    PROTOCOL_VERSION,
    REPLY,
    RPC,
    WAKE,
    Header,
    Keys,
    dump_header,
    entry_messages,
    load_header,
    partition_of,
    stream_entries,
)
from agent_runner.errors import CoreError, MessageDroppedException, UndeliverableException
from agent_runner.tracing import spans

logger = logging.getLogger(__name__)


def _dropped(value: Any) -> bool:
    return value is DropMessage or isinstance(value, DropMessage)


class Messenger:
    """Sends the RPCs and publishes of one runtime and resolves the RPCs' replies.

    Replies come back on the runtime's own stream (:attr:`reply_stream`), read by one loop
    that runs from :meth:`start` to :meth:`close`.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        outbox: Outbox,
        codec: PayloadCodec,
        counts: PartitionCounts,
        subscriptions: SubscriptionTable,
        options: Options,
        *,
        worker_id: str,
        interventions: Sequence[InterventionHandler],
        access: AccessPolicy | None = None,
    ) -> None:
        self._client = client
        self._keys = keys
        self._outbox = outbox
        self._codec = codec
        self._counts = counts
        self._subscriptions = subscriptions
        self._options = options
        self._interventions = list(interventions)
        self._access = None if access is None or access.is_open else access
        """The access policy to check (None: open, nothing to check)."""
        self._pending = PendingCalls(worker_id, self._abandon, timeout=options.rpc_timeout)
        self.reply_stream = keys.replies(worker_id)
        self._reply_last: Any = None
        """The last reply entry read (what the heartbeat trims the reply stream to)."""
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = False

    @property
    def calls_in_flight(self) -> int:
        """RPCs sent and not yet answered."""
        return len(self._pending)

    def count_calls(self, stats: DistributedStats) -> None:
        """Count each RPC's outcome in ``stats`` from now on (the operator endpoint)."""
        self._pending.stats = stats

    def start(self) -> None:
        """Start reading replies (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._reply_loop(), name="replies")

    async def close(self) -> None:
        """Fail the calls still waiting and stop reading replies."""
        self._pending.fail_all("the runtime closed")
        self._closing = True
        if self._task is not None:
            wake: Header = {"v": PROTOCOL_VERSION, "kind": WAKE, "id": "close"}
            self._outbox.push("XADD", self.reply_stream, "*", "h", dump_header(wake), "d", b"")
            await end_loop(self._task, self._options.block + 2.0)
            self._task = None
        self._closed = True

    def trim_replies(self) -> None:
        """Delete the replies read so far and keep the reply stream from expiring."""
        if self._reply_last is not None:
            self._outbox.push("XTRIM", self.reply_stream, "MINID", "~", self._reply_last)
        self._outbox.push("PEXPIRE", self.reply_stream, max(60_000, self._options.ttl_ms * 10))

    # -- messaging -------------------------------------------------------------------
    def send(
        self,
        message: Any,
        recipient: AgentId,
        sender: AgentId | None,
        token: CancellationToken | None,
        message_id: str | None,
    ) -> Awaitable[Any]:
        """An RPC, to await for its reply.

        Without intervention handlers this is the request itself: no coroutine of its own
        between the caller and the request, on the path of every call.
        """
        if self._access is not None:
            self._access.check_send(sender, recipient)
        message_id = message_id or self._pending.new_message_id()
        if self._interventions:
            token = token or CancellationToken()
            return self._send_intervened(message, recipient, sender, token, message_id)
        header, data = self._rpc(message)
        return self.request(header, recipient, data, sender, token, message_id)

    async def _send_intervened(
        self,
        message: Any,
        recipient: AgentId,
        sender: AgentId | None,
        token: CancellationToken,
        message_id: str,
    ) -> Any:
        for handler in self._interventions:
            ctx = MessageContext(sender, None, True, token, message_id)
            changed = await handler.on_send(message, message_context=ctx, recipient=recipient)
            if _dropped(changed):
                raise MessageDroppedException(
                    f"an intervention handler dropped the message to {recipient}"
                )
            message = message if changed is None else changed
        header, data = self._rpc(message)
        result = await self.request(header, recipient, data, sender, token, message_id)
        for handler in self._interventions:
            changed = await handler.on_response(result, sender=recipient, recipient=sender)
            if _dropped(changed):
                raise MessageDroppedException(
                    f"an intervention handler dropped the reply of {recipient}"
                )
            result = result if changed is None else changed
        return result

    def _rpc(self, message: Any) -> tuple[Header, bytes]:
        """The header and payload of an RPC carrying ``message``."""
        type_name, content_type, data = self._codec.encode(message)
        return {"kind": RPC, "type": type_name, "ct": content_type}, data

    async def request(
        self,
        header: Header,
        recipient: AgentId,
        data: bytes,
        sender: AgentId | None,
        token: CancellationToken | None,
        message_id: str,
    ) -> Any:
        count = self._counts.cached(recipient.type) or await self._counts.of(recipient.type)
        if count is None:
            raise UndeliverableException(f"Recipient not found: no agent type {recipient.type!r}")
        stream = self._keys.inbox(recipient.type, partition_of(recipient.key, count))
        rid = self._pending.new_rid()
        header["v"] = PROTOCOL_VERSION
        header["id"] = message_id
        header["rid"] = rid
        header["to"] = str(recipient)
        header["sender"] = None if sender is None else str(sender)
        header["reply_to"] = self.reply_stream
        chain = CALL_CHAIN.get()
        if chain:
            header["chain"] = list(chain)
        trace = spans.carrier()  # the W3C trace context (None while tracing is off)
        if trace is not None:
            header.update(trace)  # type: ignore[typeddict-item]
        call = self._pending.add(rid, str(recipient), stream)
        if token is not None:  # else nobody can cancel the call but its caller's task
            token.link_future(call.future)
        command = ("XADD", stream, "*", "h", dump_header(header), "d", data)
        try:
            sent = await self._outbox.send_now(command)
        except TRANSIENT_ERRORS:
            self._pending.pop(rid)
            raise
        if sent is None:
            self._outbox.write(call, *command)
        elif isinstance(sent[0], Exception):
            self._pending.pop(rid)
            raise sent[0]
        return await call.future

    def _abandon(self, call: Call) -> None:
        """A call timed out or was cancelled: tell the handler (its token is cancelled)."""
        header: Header = {
            "v": PROTOCOL_VERSION,
            "kind": CANCEL,
            "rid": call.rid,
            "to": call.recipient,
        }
        if not self._closed:
            self._outbox.push("XADD", call.stream, "*", "h", dump_header(header), "d", b"")

    async def publish(
        self,
        message: Any,
        topic_id: TopicId,
        sender: AgentId | None,
        token: CancellationToken | None,
        message_id: str | None,
    ) -> None:
        """Publish through the intervention handlers to every subscriber of ``topic_id``;
        returns once durably queued (or at once when the access policy drops it)."""
        if self._access is not None and not self._access.allows_publish(sender, topic_id):
            return
        token = token or CancellationToken()
        message_id = message_id or self._pending.new_message_id()
        for handler in self._interventions:
            ctx = MessageContext(sender, topic_id, False, token, message_id)
            changed = await handler.on_publish(message, message_context=ctx)
            if _dropped(changed):
                return
            message = message if changed is None else changed
        type_name, content_type, data = self._codec.encode(message)
        base: Header = {
            "v": PROTOCOL_VERSION,
            "kind": EVENT,
            "id": message_id,
            "sender": None if sender is None else str(sender),
            "topic": [topic_id.type, topic_id.source],
            "type": type_name,
            "ct": content_type,
        }
        trace = spans.carrier()
        if trace is not None:
            base.update(trace)  # type: ignore[typeddict-item]
        subs = self._subscriptions
        for _ in range(8):
            if subs.version is None:
                await subs.load()
            version = subs.version
            streams: list[str] = []
            headers: list[bytes] = []
            for agent_id in subs.recipients(topic_id):
                if agent_id == sender:
                    continue
                count = await self._counts.of(agent_id.type)
                if count is None:
                    logger.warning(
                        "publish on %s: no agent type %r registered", topic_id, agent_id.type
                    )
                    continue
                streams.append(self._keys.inbox(agent_id.type, partition_of(agent_id.key, count)))
                base["to"] = str(agent_id)
                headers.append(dump_header(base))
            written = await self._outbox.call(
                "EVAL",
                PUBLISH_SCRIPT,
                1 + len(streams),
                self._keys.subscriptions_version,
                *streams,
                version,
                data,
                *headers,
            )
            if written != -1:
                return
            subs.version = None
        raise CoreError(f"publish on {topic_id}: subscriptions kept changing")

    # -- replies ---------------------------------------------------------------------
    async def _reply_loop(self) -> None:
        stream = self.reply_stream
        last: Any = "0-0"
        attempt = 0
        unread = 0
        block = self._options.block_ms
        link = Link(self._client)
        try:
            while not self._closing:
                try:
                    packed = link.pack(
                        "XREAD", "COUNT", 1000, "BLOCK", block, "STREAMS", stream, last
                    )
                    response = await link.execute_packed(packed, "XREAD")
                    attempt = 0
                except TRANSIENT_ERRORS as exc:
                    attempt += 1
                    delay = backoff_delay(attempt, base=0.05, cap=2.0, jitter="equal")
                    logger.warning("replies: redis unavailable (%r), retry in %.2fs", exc, delay)
                    await asyncio.sleep(delay)
                    continue
                last, unread, any_read = self._on_replies(response, last, unread)
                if any_read:
                    await asyncio.sleep(0)  # resumed callers send their next request first
        finally:
            await link.close()

    def _on_replies(self, response: Any, last: Any, unread: int) -> tuple[Any, int, bool]:
        """Resolve the calls of one XREAD batch: the last id read, the entries read since
        the stream was last trimmed, and whether there were any."""
        entries = [e for _, batch in stream_entries(response) for e in batch]
        for entry_id, fields in entries:
            last = entry_id
            try:
                self._on_reply(fields)
            except Exception:
                logger.exception("replies: bad entry %s dropped", entry_id)
        unread += len(entries)
        self._reply_last = last
        if unread >= 1000:
            # Trim what was read; not after every batch, so a sequential caller's next
            # request never waits behind a trim.
            self._outbox.push("XTRIM", self.reply_stream, "MINID", "~", last)
            unread = 0
        return last, unread, bool(entries)

    def _on_reply(self, fields: Mapping[bytes, bytes]) -> None:
        for raw, data in entry_messages(fields):
            try:
                self._on_one_reply(load_header(raw), data)
            except (ValueError, TypeError, KeyError) as exc:
                logger.error("replies: malformed reply dropped: %s", exc)

    def _on_one_reply(self, header: Header, data: bytes) -> None:
        call = self._pending.pop(header.get("rid", ""))
        if call is None or call.future.done():
            return
        kind = header["kind"]
        if kind == REPLY:
            try:
                value = self._codec.decode(header.get("type", "null"), header.get("ct", ""), data)
            except CoreError as exc:
                call.future.set_exception(exc)
                return
            call.future.set_result(value)
        elif kind == ERROR:
            info = header.get("error") or {"type": "Exception", "module": "", "message": ""}
            call.future.set_exception(
                remote_exception(
                    remote_type=str(info.get("type", "Exception")),
                    remote_module=str(info.get("module", "")),
                    remote_message=str(info.get("message", "")),
                    recipient=call.recipient,
                    worker=str(header.get("worker", "?")),
                )
            )
