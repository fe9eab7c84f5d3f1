"""PartitionReader: the one ``XREADGROUP`` loop of a worker, and its control stream.

It reads every partition stream the worker owns, and its control stream, in one blocking
read; entries go to the :class:`Host`. While ``max_inflight`` messages are in hand it waits
instead of reading. A ``wake`` entry on a worker's control stream (:func:`send_wake`) makes
its read return at once: ``partitions`` when its owned partitions changed (read the new
set), ``rebalance`` when a peer asks it to run a heartbeat step now.

A read that fails (connection lost, Redis restarting, an exchange timing out) may still have
happened on the server: the entries are then pending for this worker though it never got
them, and ``>`` would never return them again. So after every failed read the owned
partitions are re-read from their pending entries first (``0-0``, as after a claim): the
entries still in hand are skipped, the ones handled before are skipped by their agent's
watermark, and the rest are handled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis.asyncio as redis
from redis.exceptions import ResponseError

from agent_runner.backoff import backoff_delay
from agent_runner.distributed._claim import ensure_group
from agent_runner.distributed._link import Link
from agent_runner.distributed._loops import end_loop
from agent_runner.distributed._options import Options
from agent_runner.distributed._outbox import TRANSIENT_ERRORS, Outbox
from agent_runner.distributed._partitions import PartitionTable
from agent_runner.distributed._stats import DistributedStats
from agent_runner.distributed._wire import (
    GROUP,
    PROTOCOL_VERSION,
    WAKE,
    Header,
    Keys,
    dump_header,
    load_header,
    stream_entries,
)

if TYPE_CHECKING:
    from agent_runner.distributed._host import Host

logger = logging.getLogger(__name__)

WEDGED_BLOCKS = 3
"""Block intervals (``Options.block``) without a completed read that make a read loop wedged."""


def send_wake(outbox: Outbox, keys: Keys, worker: str, reason: str) -> None:
    """Wake ``worker``'s read loop: ``partitions`` (its owned partitions changed) or
    ``rebalance`` (run a heartbeat step now)."""
    header: Header = {"v": PROTOCOL_VERSION, "kind": WAKE, "id": reason}
    outbox.push(
        "XADD", keys.control(worker), "MAXLEN", "~", 100, "*", "h", dump_header(header), "d", b""
    )


class PartitionReader:
    """Reads the owned partitions and the control stream of one worker for its Host."""

    def __init__(
        self,
        host: Host,
        table: PartitionTable,
        outbox: Outbox,
        keys: Keys,
        options: Options,
        *,
        worker_id: str,
        on_rebalance: Callable[[], None],
    ) -> None:
        self._host = host
        self._table = table
        self._outbox = outbox
        self._keys = keys
        self._options = options
        self._worker_id = worker_id
        self._on_rebalance = on_rebalance
        self._control = keys.control(worker_id)
        self._control_b = self._control.encode()
        self._streams: dict[bytes, bytes | str] = {}
        self._packed: list[bytes] | None = None
        """The packed XREADGROUP, kept while the streams and cursors stay the same."""
        self._task: asyncio.Task[None] | None = None
        self.read_at: float | None = None
        """Monotonic time of the last completed read (``None``: none yet)."""
        self.group_lost_at: float | None = None
        """Monotonic time Redis last answered NOGROUP (its consumer groups were lost)."""
        self.stats: DistributedStats | None = None
        """Counts the pending entries read again when the operator endpoint asks."""

    def start(self, client: redis.Redis) -> None:
        self.read_at = time.monotonic()
        self._task = asyncio.create_task(self._run(client), name="read-loop")

    def problems(self, now: float | None = None) -> list[str]:
        """Why this read loop is not healthy (empty: it is): no read completed in
        :data:`WEDGED_BLOCKS` block intervals (wedged, or Redis unreachable), or its consumer
        group lost recently (Redis restarted without persistence; recreated, entries added
        while it was gone are lost)."""
        now = time.monotonic() if now is None else now
        found = []
        window = WEDGED_BLOCKS * self._options.block + 1.0
        if self._task is not None and self.read_at is not None and now - self.read_at > window:
            found.append(f"the read loop has not completed a read in {now - self.read_at:.0f}s")
        if self.group_lost_at is not None and now - self.group_lost_at < window:
            found.append("the consumer group was lost (Redis restarted without persistence?)")
        return found

    def wake(self) -> None:
        """Make the blocking read return now (the owned partitions changed, or stopping)."""
        send_wake(self._outbox, self._keys, self._worker_id, "partitions")

    async def stop(self) -> None:
        """End the loop (after the host stopped: it checks ``host.stopping``)."""
        if self._task is not None:
            self.wake()
            await end_loop(self._task, self._options.block + 2.0)
            self._task = None

    async def _run(self, client: redis.Redis) -> None:
        """Read until the host stops; never dies (Redis errors are retried with backoff)."""
        attempt = 0
        link = Link(client)
        try:
            while not self._host.stopping:
                try:
                    await self._read_once(link, client)
                    attempt = 0
                except TRANSIENT_ERRORS as exc:
                    self._reread_pending()
                    attempt += 1
                    delay = backoff_delay(attempt, base=0.05, cap=2.0, jitter="equal")
                    logger.warning(
                        "worker %s: redis unavailable (%r), retry in %.2fs",
                        self._worker_id,
                        exc,
                        delay,
                    )
                    await asyncio.sleep(delay)
                except Exception:
                    logger.exception("worker %s: read loop step failed", self._worker_id)
                    await asyncio.sleep(self._options.heartbeat_interval)
        finally:
            await link.close()

    def _reread_pending(self) -> None:
        """Read the owned partitions' pending entries again before new ones: the failed
        read may have delivered entries that never reached us."""
        for part in self._table.readable():
            part.cursor = "0-0"

    async def _read_once(self, link: Link, client: redis.Redis) -> None:
        if self._host.full:
            await self._host.wait_for_room()
            return
        control_b = self._control_b
        # bytes keys and ids: redis-py packs them without encoding (17+ streams per read)
        streams: dict[bytes, bytes | str] = {control_b: b">"}
        for part in self._table.readable():
            streams[part.stream_b] = b">" if part.cursor == ">" else part.cursor
        if streams != self._streams or self._packed is None:
            self._packed = link.pack(
                "XREADGROUP",
                "GROUP",
                GROUP,
                self._worker_id,
                "COUNT",
                self._options.read_count,
                "BLOCK",
                self._options.block_ms,
                "STREAMS",
                *streams,
                *streams.values(),
            )
            self._streams = streams
        try:
            response = await link.execute_packed(self._packed, "XREADGROUP")
        except ResponseError as exc:
            if "NOGROUP" not in str(exc) and "UNBLOCKED" not in str(exc):
                raise
            self.group_lost_at = time.monotonic()
            for name in streams:  # Redis lost them (restarted without persistence)
                await ensure_group(client, name.decode(), "$" if name == control_b else "0")
            return
        self.read_at = time.monotonic()
        for stream, entries in stream_entries(response):
            if stream == control_b:
                self._on_control(entries)
                continue
            owned = self._table.by_stream.get(stream)
            if owned is None or owned.draining:
                continue  # lost meanwhile: the entries stay pending for the next owner
            replayed = owned.cursor != ">"
            if replayed:
                if not entries:
                    owned.cursor = ">"
                    continue
                owned.cursor = entries[-1][0].decode()
                if self.stats is not None:
                    self.stats.reread += len(entries)
            for entry_id, fields in entries:
                owned.last_read = entry_id
                self._host.dispatch(owned, entry_id, fields, replayed)

    def _on_control(self, entries: list[Any]) -> None:
        for entry_id, fields in entries:
            self._outbox.ack(self._control, entry_id)
            try:
                header = load_header(fields[b"h"])
            except (ValueError, KeyError, TypeError):
                continue
            if header.get("kind") == WAKE and header.get("id") == "rebalance":
                self._on_rebalance()


__all__ = ["WEDGED_BLOCKS", "PartitionReader"]
