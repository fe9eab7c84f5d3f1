"""Sending replies to outputs: routing, the reply ledger, capped retries, outcomes.

Routing, for each reply of a message (first match wins):

1. ``Reply.targets`` when the agent set them;
2. ``routes[message.source]`` when the runner was given routes for that input;
3. the output whose ``name`` equals ``message.source`` (a Discord message is answered on
   Discord). Never a broadcast.

For each reply ``i`` and output, the ledger entry ``reply_open(f"{key}#{i}", output)`` comes
first. A reply with an outcome is not sent again. A fresh one is sent with capped
exponential backoff (:class:`~agent_runner.errors.DeliveryError` gives up at once), its
delivered parts recorded as they go, its outcome recorded after. One whose earlier attempt
ended with its process (outcome unknown) is resolved by the output's delivery contract
(:mod:`agent_runner.connector`): sent again under the same key (``exactly_once``),
reconciled with the platform then sent only where absent (``reconciled``), or reported lost
at WARNING (``at_most_once``). Never skipped as "already sent".

Every outcome is counted in ``ReplySender.counts`` (the operator endpoint's metrics) and
given as a :class:`ReplyEvent` to ``ReplySender.listeners``: ``sent``, ``failed``, ``lost``,
``retried`` (a failed try about to be repeated), ``resumed`` (an unknown outcome taken up
after a restart) and ``reconciled`` (one lookup on the platform; ``found`` says whether the
whole reply was there). A live reply (no ledger entry: an HTTP answer) is told too, keyed
``"<message key> (live)"``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, NamedTuple, get_args

from agent_runner.backoff import RetryPolicy
from agent_runner.connector import AgentOutput, DeliveryContract, DeliveryKey
from agent_runner.errors import ConfigurationError, DeliveryError, RateLimitedError
from agent_runner.message import Message, Reply
from agent_runner.runner.faults import checkpoint
from agent_runner.store import Store
from agent_runner.tracing import pipeline

_log = logging.getLogger("agent_runner.runtime")


def route(
    message: Message,
    reply: Reply,
    *,
    outputs: Collection[str],
    routes: Mapping[str, Sequence[str]] | None,
) -> tuple[list[str], list[str]]:
    """The output names ``reply`` goes to, and the requested names that do not exist.

    >>> m = Message(id="1", conversation_id="c", source="cron", author={"id": "u"}, text="x")
    >>> route(m, Reply(text="y"), outputs=["x", "cron"], routes={"cron": ["x"]})
    (['x'], [])
    >>> route(m, Reply(text="y"), outputs=["x"], routes=None)
    ([], ['cron'])
    """
    if reply.targets is not None:
        wanted: Sequence[str] = reply.targets
    elif routes is not None and message.source in routes:
        wanted = routes[message.source]
    else:  # the common case: answered where it came from
        source = message.source
        return ([source], []) if source in outputs else ([], [source])
    known = set(outputs)
    names: list[str] = []
    for name in wanted:
        if name not in names:
            names.append(name)
    return [n for n in names if n in known], [n for n in names if n not in known]


ReplyOutcome = Literal["sent", "failed", "lost", "retried", "resumed", "reconciled"]


class ReplyEvent(NamedTuple):
    """One step of a reply's delivery on one output (see the module doc).

    A named tuple, not a frozen dataclass: one is made per reply step whenever a listener is
    registered, and a frozen dataclass costs five ``object.__setattr__`` calls to build
    (~1.5 µs against ~0.3).
    """

    key: str
    output: str
    outcome: ReplyOutcome
    attempt: int
    found: bool | None = None
    """For ``reconciled``: whether the whole reply was already on the platform."""


ReplyListener = Callable[[ReplyEvent], None]

LOST = "lost: its send was interrupted and the output cannot tell whether it arrived"


def delivery_contract(output: object) -> DeliveryContract | None:
    """The contract ``output`` declares (``delivery``), None when it declares none.

    >>> delivery_contract(object()) is None
    True
    """
    declared = getattr(output, "delivery", None)
    if declared is not None and declared not in get_args(DeliveryContract):
        name = getattr(output, "name", output)
        raise ConfigurationError(
            f"output {name!r}: delivery must be one of {get_args(DeliveryContract)}, "
            f"not {declared!r}"
        )
    return declared


@dataclass(frozen=True, slots=True)
class ReplySender:
    """Sends the replies of one message to their outputs; shared by the whole runner."""

    store: Store
    outputs: Mapping[str, AgentOutput]
    routes: Mapping[str, Sequence[str]] | None
    retries: int
    base_delay: float
    max_delay: float
    sources: Mapping[str, object] = field(default_factory=dict)
    """Connectors by name (inputs and outputs), told when their messages are handled."""
    listeners: list[ReplyListener] = field(default_factory=list)
    """Called with every :class:`ReplyEvent` (must not block; exceptions are logged)."""
    counts: dict[tuple[str, ...], float] | None = None
    """Every outcome counted here by ``(output, outcome)`` (the operator endpoint's
    ``agent_runner_replies_total``): one dict update a reply, where a listener would cost
    building an event and a call."""

    def __post_init__(self) -> None:
        if self.retries < 0 or self.base_delay < 0 or self.max_delay < 0:
            raise ConfigurationError("output_retries and retry delays must be >= 0")
        for output in self.outputs.values():
            delivery_contract(output)

    async def send(self, message: Message, replies: Sequence[Reply]) -> None:
        """Send every reply of ``message`` (in order, per output), then complete its journal."""
        names = self.outputs.keys()
        for index, reply in enumerate(replies):
            targets, unknown = route(message, reply, outputs=names, routes=self.routes)
            if unknown:
                # An input with no output of its name is normal (cron); say so once per reply.
                _log.warning(
                    "reply %s#%d: no output named %s; not delivered there",
                    message.key,
                    index,
                    ", ".join(repr(n) for n in unknown),
                )
            for name in targets:
                with pipeline.send(message, name, index):
                    await self._send_one(message, reply, index, name)
        await self.store.journal_complete(message.key)
        await self.complete_at_source(message)

    async def complete_at_source(self, message: Message) -> None:
        """Call ``complete(message)`` on the connector named ``message.source``, if it has one.

        It runs once per handled message, after every reply was sent (or given up), also when
        there were none; an HTTP request then answers with all its replies, a cron job knows
        its previous firing is done.
        """
        complete = getattr(self.sources.get(message.source), "complete", None)
        if complete is None:
            return
        try:
            await complete(message)
        except Exception:  # a connector's hook must not stop the conversation
            _log.exception("complete() of %r failed for %s", message.source, message.key)

    async def _send_one(self, message: Message, reply: Reply, index: int, name: str) -> None:
        key = f"{message.key}#{index}"
        output = self.outputs[name]
        contract = delivery_contract(output)
        needs_claim = getattr(output, "needs_claim", None)
        if needs_claim is not None and not needs_claim(message):
            ticket = DeliveryKey(key, name, index) if contract is not None else None
            return await self._attempts(output, message, reply, ticket, ledger=False)
        state = await self.store.reply_open(key, name)
        if state.done:
            _log.info(
                "reply %s to %r has an outcome already (ok=%s); not sent again", key, name, state.ok
            )
            return
        checkpoint("claimed")
        ticket = DeliveryKey(
            key,
            name,
            index,
            attempt=state.attempt,
            parts=dict(state.parts),
            resumed=state.resumed,
            record=partial(self._record_part, key, name),
        )
        if state.resumed:
            if contract in (None, "at_most_once"):
                return await self._lost(ticket)
            self._emit(ticket, "resumed")
            _log.info(
                "reply %s to %r: outcome unknown after a restart (attempt %d, %d part(s) "
                "recorded); resolving it as %s",
                key,
                name,
                state.attempt,
                len(state.parts),
                contract,
            )
        await self._attempts(output, message, reply, ticket if contract else None, ticket)

    async def _attempts(
        self,
        output: AgentOutput,
        message: Message,
        reply: Reply,
        key: DeliveryKey | None,
        ledger: DeliveryKey | bool,
    ) -> None:
        """Try ``output.send`` with capped backoff; record the outcome when ``ledger`` is one."""
        entry = ledger if isinstance(ledger, DeliveryKey) else None
        name = output.name
        label = entry.key if entry is not None else f"{message.key} (live)"
        told = entry or DeliveryKey(label, name, 0)  # what listeners hear about
        reconciled = entry is not None and delivery_contract(output) == "reconciled"
        attempt = 0
        while True:
            try:
                if reconciled and key is not None and key.resumed:
                    if await self._reconcile(output, message, reply, key):
                        return
                if key is None:
                    await output.send(message, reply)
                else:
                    await output.send(message, reply, key=key)  # type: ignore[call-arg]
            except DeliveryError as exc:
                return await self._failed(label, name, exc, attempt + 1, entry, told)
            except Exception as exc:  # an output's fault must not stop the loop
                attempt += 1
                retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
                wait = RetryPolicy(
                    retries=self.retries, base=self.base_delay, cap=self.max_delay
                ).wait(attempt, retry_after=retry_after)
                if wait is None:
                    return await self._failed(label, name, exc, attempt, entry, told)
                _log.warning(
                    "reply %s to %r failed (attempt %d of %d), retrying in %.2fs: %r",
                    label,
                    name,
                    attempt,
                    self.retries + 1,
                    wait,
                    exc,
                )
                self._emit(told, "retried")
                await asyncio.sleep(wait)
                if key is not None:
                    key.resumed = True  # the failed try may have delivered some of it
            else:
                checkpoint("sent")
                if entry is not None:
                    await self.store.reply_result(entry.key, name, ok=True)
                self._emit(told, "sent")
                return

    async def _reconcile(
        self, output: AgentOutput, message: Message, reply: Reply, key: DeliveryKey
    ) -> bool:
        """Ask the platform what of ``reply`` arrived; True (outcome recorded) if all of it."""
        reconcile = getattr(output, "reconcile", None)
        if reconcile is None:
            return False
        found = bool(await reconcile(message, reply, key))  # raising: a failed attempt
        self._emit(key, "reconciled", found=found)
        if found:
            _log.info(
                "reply %s to %r was delivered before the restart; not sent again",
                key.key,
                key.output,
            )
            await self.store.reply_result(key.key, key.output, ok=True)
        return found

    async def _record_part(self, key: str, name: str, part: int, ref: str) -> None:
        checkpoint("part")
        await self.store.reply_part(key, name, part, ref)
        checkpoint("recorded")

    async def _lost(self, key: DeliveryKey) -> None:
        _log.warning(
            "reply %s to %r lost: its send was interrupted (attempt %d) and the output is "
            "at-most-once, so it is not sent again%s",
            key.key,
            key.output,
            key.attempt - 1,
            f" ({len(key.parts)} part(s) had arrived)" if key.parts else "",
        )
        await self.store.reply_result(key.key, key.output, ok=False, error=LOST)
        self._emit(key, "lost")

    async def _failed(
        self,
        label: str,
        name: str,
        exc: BaseException,
        attempts: int,
        key: DeliveryKey | None,
        told: DeliveryKey,
    ) -> None:
        _log.error(
            "reply %s to %r failed after %d attempt(s); giving up: %r", label, name, attempts, exc
        )
        if key is not None:
            error = f"{type(exc).__name__}: {exc}"
            await self.store.reply_result(key.key, name, ok=False, error=error)
        self._emit(told, "failed")

    def _emit(self, key: DeliveryKey, outcome: ReplyOutcome, *, found: bool | None = None) -> None:
        counts = self.counts
        if counts is not None:
            counted = (key.output, outcome)
            counts[counted] = counts.get(counted, 0.0) + 1.0
        if not self.listeners:
            return
        event = ReplyEvent(key.key, key.output, outcome, key.attempt, found)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a metrics hook must not stop delivery
                _log.exception("reply listener %r failed", listener)


__all__ = [
    "LOST",
    "ReplyEvent",
    "ReplyListener",
    "ReplyOutcome",
    "ReplySender",
    "delivery_contract",
    "route",
]
