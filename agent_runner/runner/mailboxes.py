"""Per-conversation mailboxes in front of the core message runtime.

Each conversation has a FIFO mailbox and at most one worker task. The worker takes the next
message, sends it as a :class:`~agent_runner.runner.conversation.Turn` to the conversation's actor
(``runtime.send_message``), sends the replies, then takes the next. On the in-process
``SingleThreadedAgentRuntime`` the worker runs a live actor's turn itself
(:func:`~agent_runner.runner.conversation.run_turn`): the runtime then builds no envelope,
future or task for it. So messages of one
conversation are handled one at a time and their replies go out in arrival order, whatever
``MessageRuntime`` carries the turns (autogen-style runtimes handle concurrent sends to one
agent concurrently; a distributed runtime may run them on different workers). Different
conversations run in parallel, at most ``max_concurrency`` agent turns at a time.

A message enters its mailbox *before* the store has journaled it (with a future that tells
whether the journal accepted it): that fixes its place in arrival order at the moment the
input pushed it, and the worker waits for the journal only when the message reaches the head.

With a double-texting policy other than ``enqueue`` (see
:mod:`agent_runner.runner.double_texting`), conversations get a worker that folds, interrupts
or rejects messages arriving while busy; the default path stays as above.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from functools import partial
from typing import Any

from agent_runner.core import CancellationToken, MessageRuntime
from agent_runner.message import Message, Reply
from agent_runner.runner.conversation import TurnOutcome, TurnResult, run_turn
from agent_runner.runner.double_texting import DoubleTexting, TextingPolicy
from agent_runner.runner.operations import Operations, clock
from agent_runner.runner.replies import ReplySender
from agent_runner.tracing import spans

_log = logging.getLogger("agent_runner.runtime")


@dataclass(slots=True)
class _Pending:
    message: Message
    accepted: asyncio.Future[bool]
    """True once journaled, False for a duplicate; an exception when journaling failed."""
    trace: Any = None
    """The trace context it arrived in (None while tracing is off)."""


class ConversationMailboxes:
    """Mailboxes, workers and the concurrency bound of one runner."""

    def __init__(
        self,
        *,
        runtime: MessageRuntime,
        replies: ReplySender,
        max_concurrency: int,
        max_pending: int,
        error_reply: str | None,
        texting: TextingPolicy | None = None,
        operations: Operations | None = None,
    ) -> None:
        self._runtime = runtime
        self._operations = operations
        self._policy = texting.choose if texting is not None else None
        self._busy_reply = texting.busy_reply if texting is not None else None
        self._tokens: dict[str, CancellationToken] = {}
        """Conversation key -> the token of its running cancellable turn (``interrupt``)."""
        self._replies = replies
        self._error_reply = error_reply
        self._slots = asyncio.Semaphore(max_concurrency)
        self._boxes: dict[str, deque[_Pending]] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self._max_pending = max_pending
        self._room_waiters: deque[asyncio.Future[None]] = deque()
        self.pending = 0
        """Messages in mailboxes (queued or in progress)."""
        self.handled = 0
        """Messages handled (turn run and replies sent) since start."""

    async def wait_for_room(self) -> None:
        """Wait while ``max_pending`` messages are in the mailboxes (back-pressure on inputs)."""
        while self.pending >= self._max_pending:
            waiter = asyncio.get_running_loop().create_future()
            self._room_waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                self._wake()  # pass the turn on if this waiter was woken and gave up
                raise

    def _wake(self) -> None:
        while self._room_waiters and self.pending < self._max_pending:
            waiter = self._room_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def admit(self, message: Message, journal: Awaitable[bool]) -> bool:
        """Queue ``message`` behind the earlier ones of its conversation, then await its
        ``journal`` write; return what the write returned (False: a duplicate, not handled).

        Raises what the journal write raised (the message is then skipped, not handled).
        """
        if self._busy_policy(message) == "reject":
            return await self._reject(message, journal)
        accepted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.submit(message, accepted)  # its place in the conversation's order
        try:
            fresh = await journal
        except BaseException as exc:
            # Not accepted (or the caller gave up waiting: if the write still landed, the
            # journal hands the message over at the next start).
            if not accepted.done():
                if isinstance(exc, Exception):
                    accepted.set_exception(exc)
                    accepted.exception()  # retrieved: the worker skips it quietly
                else:
                    accepted.cancel()
            raise
        if not accepted.done():  # (cancelled when shutdown cut the mailboxes short)
            accepted.set_result(fresh)
        return fresh

    def hand_over(self, message: Message, journal: Awaitable[bool]) -> asyncio.Future[bool]:
        """Queue ``message`` as :meth:`admit` does without waiting: its ``journal`` write
        runs as a task, returned (its result: False for a duplicate; the worker still waits
        for it before the turn)."""
        if self._busy_policy(message) == "reject":
            return asyncio.ensure_future(self._reject(message, journal))
        accepted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.submit(message, accepted)
        write: asyncio.Future[bool] = asyncio.ensure_future(journal)
        write.add_done_callback(partial(_settle, accepted))
        return write

    def _busy_policy(self, message: Message) -> DoubleTexting | None:
        """The double-texting policy for ``message`` when its conversation is busy (an
        ``interrupt`` cancels the running turn here)."""
        if self._policy is None or message.conversation_key not in self._boxes:
            return None
        policy = self._policy(message)
        if policy == "interrupt":
            token = self._tokens.get(message.conversation_key)
            if token is not None:
                token.cancel()
        return policy

    def submit(self, message: Message, accepted: asyncio.Future[bool]) -> None:
        """Queue ``message`` behind the earlier ones of its conversation."""
        self.pending += 1
        key = message.conversation_key
        box = self._boxes.get(key)
        if box is not None:
            box.append(_Pending(message, accepted, spans.current()))
            return
        box = self._boxes[key] = deque((_Pending(message, accepted, spans.current()),))
        work = self._work(key, box) if self._policy is None else self._work_policies(key, box)
        task = asyncio.create_task(work, name=f"agent-runner conversation {key}")
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)

    @property
    def busy(self) -> bool:
        """True while any conversation has a message queued or in progress."""
        return bool(self._workers)

    async def join(self, grace: float | None) -> bool:
        """Wait until every mailbox is empty; False when ``grace`` seconds passed first."""
        loop = asyncio.get_running_loop()
        deadline = None if grace is None else loop.time() + grace
        while self._workers:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await asyncio.wait(set(self._workers), timeout=remaining)
        return True

    async def drain(self, grace: float, *, hurry: asyncio.Event) -> int:
        """Wait up to ``grace`` seconds (less once ``hurry`` is set) for every mailbox to empty,
        then cancel what is left (it stays journaled); return how many were cut short."""
        join = asyncio.ensure_future(self.join(max(0.0, grace)))
        hurried = asyncio.ensure_future(hurry.wait())
        try:
            await asyncio.wait({join, hurried}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hurried.cancel()
            join.cancel()
        if join.done() and not join.cancelled() and join.result():
            return 0
        return await self.cancel()

    async def cancel(self) -> int:
        """Cancel every worker (their messages stay journaled); return how many were busy."""
        workers = set(self._workers)
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for box in self._boxes.values():
            for pending in box:
                pending.accepted.cancel()
        self._boxes.clear()
        self.pending = 0
        while self._room_waiters:  # waiting inputs go on (and are told the runner stopped)
            self._wake()
        return len(workers)

    async def _work(self, key: str, box: deque[_Pending]) -> None:
        try:
            while box:
                pending = box[0]
                if await _fresh(pending):
                    with spans.attach(pending.trace):  # the message's trace goes on
                        await self._handle(pending.message)
                box.popleft()
                self._done_one()
        finally:
            if self._boxes.get(key) is box:
                del self._boxes[key]

    async def _work_policies(self, key: str, box: deque[_Pending]) -> None:
        """The worker under a double-texting policy: ``merge`` takes every waiting message
        into one turn; ``interrupt`` skips to the last arrival, carrying the skipped and the
        interrupted messages into its turn."""
        assert self._policy is not None
        carried: list[Message] = []
        try:
            while box:
                policy = self._policy(box[0].message)
                count = len(box) if policy == "merge" else 1
                fresh = [p for p in list(box)[:count] if await _fresh(p)]
                batch = [p.message for p in fresh]
                if policy == "interrupt" and len(box) > 1:
                    carried += batch  # a later message interrupts this one before it starts
                elif batch:
                    merged = (*carried, *batch[:-1])
                    with spans.attach(fresh[-1].trace):
                        done = await self._handle(
                            batch[-1], merged, interruptible=policy == "interrupt"
                        )
                    if done:
                        carried = []
                    else:
                        carried = [*merged, batch[-1]]
                for _ in range(count):
                    box.popleft()
                    self._done_one()
        finally:
            if self._boxes.get(key) is box:
                del self._boxes[key]

    async def _reject(self, message: Message, journal: Awaitable[bool]) -> bool:
        """Journal ``message`` and answer it ``busy_reply`` (the ``reject`` policy)."""
        self.pending += 1
        try:
            fresh = await journal
        except BaseException:
            self._done_one()
            raise
        if not fresh:
            self._done_one()
            return False
        _log.info("%s arrived while its conversation was busy: rejected", message.key)
        task = asyncio.create_task(self._answer_busy(message), name=f"busy {message.key}")
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)
        return True

    async def _answer_busy(self, message: Message) -> None:
        try:
            text = self._busy_reply
            await self._replies.send(message, [Reply(text=text)] if text else [])
        finally:
            self._done_one()

    def _done_one(self) -> None:
        self.pending -= 1
        if self._room_waiters:
            self._wake()

    async def _handle(
        self, message: Message, merged: tuple[Message, ...] = (), *, interruptible: bool = False
    ) -> bool:
        """Run the turn of ``message`` (with ``merged`` folded in) and send its replies; False
        when a later message interrupted it (nothing sent, nothing completed)."""
        operations = self._operations
        began = started = turned = 0.0
        if operations is not None:
            began = started = clock()
        try:
            slots = self._slots
            waits = slots.locked()
            async with slots:
                if waits and operations is not None:
                    started = clock()
                if interruptible:
                    result = await self._interruptible_turn(message, merged)
                    if result is None:
                        return False
                else:
                    result = await run_turn(
                        self._runtime, message, merged, error_reply=self._error_reply
                    )
                if operations is not None:
                    turned = clock()
            await self._replies.send(message, result.replies)
            for earlier in merged:  # answered together with ``message``
                await self._replies.send(earlier, ())
            self.handled += 1
            if operations is not None:
                operations.message_handled(
                    message, result.outcome, began, clock(), turned - started
                )
        except Exception:  # keep the conversation going; the journal keeps it pending
            if operations is not None:
                operations.message_failed(message.source)
            _log.exception(
                "handling %s failed; it stays in the journal and is retried on restart",
                message.key,
            )
            for each in (*merged, message):
                await self._replies.complete_at_source(each)
        return True

    async def _interruptible_turn(
        self, message: Message, merged: tuple[Message, ...]
    ) -> TurnOutcome | TurnResult | None:
        """The turn under ``interrupt``: None when a later message cancelled it."""
        key = message.conversation_key
        token = self._tokens[key] = CancellationToken()
        try:
            return await run_turn(
                self._runtime, message, merged, token, error_reply=self._error_reply
            )
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not token.is_cancelled() or (task is not None and task.cancelling()):
                raise  # the runner is stopping, not an interruption
            _log.info("the turn of %s was interrupted by a newer message", message.key)
            return None
        finally:
            if self._tokens.get(key) is token:
                del self._tokens[key]


def _settle(accepted: asyncio.Future[bool], write: asyncio.Future[bool]) -> None:
    """Pass a handed-over message's journal outcome on to its place in the mailbox."""
    if accepted.done():  # cancelled: shutdown cut the mailboxes short
        return
    if write.cancelled():
        accepted.cancel()
    elif (exc := write.exception()) is not None:
        accepted.set_exception(exc)
        accepted.exception()  # retrieved: the worker skips it quietly
    else:
        accepted.set_result(write.result())


async def _fresh(pending: _Pending) -> bool:
    """Whether the journal accepted ``pending`` (False: a duplicate, or journaling failed or
    was abandoned; the input was told)."""
    try:
        return await pending.accepted
    except asyncio.CancelledError:
        if not pending.accepted.cancelled():
            raise
        return False  # the journal write was abandoned: not accepted
    except Exception:  # journaling failed: the input was told, nothing to do
        return False


__all__ = ["ConversationMailboxes"]
