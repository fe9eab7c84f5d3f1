"""The conversation actor: one keyed agent per conversation in the core message runtime.

The runner sends each accepted message as a :class:`Turn` to
``AgentId(CONVERSATION_AGENT_TYPE, message.conversation_key)`` and gets a :class:`TurnResult`
back (both pydantic models with registered serializers, so any ``MessageRuntime``, including
the distributed one, can carry them). On the in-process ``SingleThreadedAgentRuntime`` the
runner calls a live actor's :meth:`ConversationAgent.take_turn` directly instead
(``claim_turn``): the same turn, with no models built and no envelope, future or task. The
actor:

1. loads the conversation's short-term memory once and keeps it;
2. checks the payment (``pricing.check_payment``) and the budget (``pricing.check_budget``);
3. builds the :class:`~agent_runner.agent.AgentContext` and runs the user's agent with a
   time limit;
4. normalises what the agent returned and appends the turn to memory.

An agent that raises or times out yields the configured error reply and a log line with the
message key and traceback; the actor never raises for the agent's faults.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, cast

from pydantic import BaseModel, ConfigDict

from agent_runner.agent import (
    AgentContext,
    AgentFunction,
    AgentResult,
    ConversationMemory,
    CostMeter,
    normalize_result,
)
from agent_runner.core import (
    AgentId,
    CancellationToken,
    MessageContext,
    MessageRuntime,
    RoutedAgent,
    SingleThreadedAgentRuntime,
    rpc,
    try_get_known_serializers_for_type,
)
from agent_runner.deadlines import Deadlines
from agent_runner.errors import BudgetExceededError, ConfigurationError, PaymentError
from agent_runner.media import MediaFetcher, attachments_meta
from agent_runner.memory.short_term import ConversationView
from agent_runner.message import OUTCOME_KEY, USAGE_KEY, Message, Reply
from agent_runner.pricing import NullMeter
from agent_runner.runner.operations import Operations, clock, counting_meter
from agent_runner.runner.turn_context import KeyedLogger, NoMemory, StreamLookup, seed_history
from agent_runner.store import Role
from agent_runner.tracing import pipeline, spans

if TYPE_CHECKING:
    from agent_runner.memory import ShortTermMemory
    from agent_runner.pricing import Pricing
    from agent_runner.store import Store

CONVERSATION_AGENT_TYPE = "agent_runner.conversation"
"""The core agent type of conversation actors; the agent key is the conversation key."""

_log = logging.getLogger("agent_runner.runtime")
_agent_log = logging.getLogger("agent_runner.agent")
"""The logger agents get (as ``context.logger``, tagged with the message key)."""

Outcome = Literal["ok", "error", "timeout", "budget", "payment"]


class Turn(BaseModel):
    """One message for the conversation actor to handle.

    ``merged`` are earlier messages of the conversation handed to this turn together with
    ``message`` (double texting: ``merge`` or ``interrupt``); they are remembered first.
    ``cancellable`` turns are cancelled when the caller cancels (``interrupt``). ``trace``
    continues the message's trace on whichever process runs the turn.
    """

    model_config = ConfigDict(frozen=True)

    message: Message
    merged: tuple[Message, ...] = ()
    cancellable: bool = False
    trace: dict[str, str] | None = None
    """The sender's W3C trace context (``traceparent``), when tracing is on."""


class TurnResult(BaseModel):
    """What the actor produced: the replies to deliver, in order, and how the turn went."""

    model_config = ConfigDict(frozen=True)

    replies: list[Reply]
    outcome: Outcome = "ok"


class TurnOutcome(NamedTuple):
    """A turn's :class:`TurnResult` where nothing carries it over a wire (a plain tuple)."""

    replies: list[Reply]
    outcome: Outcome = "ok"


def _with_usage(replies: list[Reply], cost: CostMeter) -> list[Reply]:
    """The last reply carries the tokens the pricing meter recorded (``USAGE_KEY``)."""
    used_in, used_out = getattr(cost, "input_tokens", 0), getattr(cost, "output_tokens", 0)
    if not replies or not (used_in or used_out):
        return replies
    last = replies[-1]
    usage = {"input_tokens": used_in, "output_tokens": used_out}
    return [
        *replies[:-1],
        last.model_copy(update={"metadata": {**last.metadata, USAGE_KEY: usage}}),
    ]


async def _remember(memory: ConversationMemory, message: Message, replies: list[Reply]) -> None:
    """Append the turn to memory, once: a message handled again after a crash (at least once
    delivery) finds its turn already there and adds nothing."""
    key = message.key
    name = message.author.name or message.author.id
    meta = attachments_meta(message.attachments)
    if isinstance(memory, ConversationView):  # one store write per turn
        if not memory.has_turn(key):
            turns: list[tuple[Role, str, str | None, dict[str, Any] | None]]
            turns = [("user", message.text, name, meta)]
            turns += [("assistant", reply.text, None, None) for reply in replies if reply.text]
            await memory.add_many(turns, message_key=key)
        return
    if isinstance(memory, NoMemory) or any(i.message_key == key for i in memory.messages):
        return
    await memory.add("user", message.text, name=name, message_key=key, meta=meta)
    for reply in replies:
        if reply.text:
            await memory.add("assistant", reply.text, message_key=key)


@dataclass(frozen=True, slots=True)
class TurnHandler:
    """Runs the user's agent for one turn; shared by every conversation actor of a runner."""

    agent: AgentFunction
    store: Store
    short_term_memory: ShortTermMemory | None
    pricing: Pricing | None
    agent_timeout: float | None
    error_reply: str | None
    budget_reply: str | None
    stream_lookup: StreamLookup | None = None
    media: MediaFetcher | None = None
    operations: Operations | None = None
    times_turns: bool = False
    """Report each turn's duration to ``operations`` (``agent_finished``): on a worker; in
    the runner's process its mailboxes time the turns."""
    _deadlines: Deadlines = field(default_factory=Deadlines, init=False, repr=False)
    """The agents' time limits share coarse timers (no loop timer per turn)."""
    _unpriced: CostMeter = field(init=False, repr=False)
    """The meter of every turn without pricing (it keeps nothing; counting with
    ``operations``), made once rather than per turn."""

    def __post_init__(self) -> None:
        if self.agent_timeout is not None and self.agent_timeout <= 0:
            raise ConfigurationError(f"agent_timeout must be > 0 or None, not {self.agent_timeout}")
        operations = self.operations
        unpriced = NullMeter() if operations is None else counting_meter(NullMeter(), operations)
        object.__setattr__(self, "_unpriced", unpriced)  # a frozen dataclass

    async def load_memory(self, conversation_key: str) -> ConversationMemory:
        if self.short_term_memory is None:
            return NoMemory(conversation_key)
        return await self.short_term_memory.load(self.store, conversation_key)

    async def run(
        self,
        message: Message,
        memory: ConversationMemory,
        runtime: MessageRuntime,
        merged: tuple[Message, ...] = (),
    ) -> TurnOutcome:
        """Handle ``message`` (``merged`` remembered first): payment, budget, the agent under
        its time limit, memory."""
        for earlier in merged:
            await _remember(memory, earlier, [])
        await seed_history(memory, message)
        operations = self.operations
        cost = self._unpriced
        if self.pricing is not None:
            cost = self.pricing.meter(
                self.store, request_key=message.key, conversation_key=message.conversation_key
            )
            if operations is not None:
                cost = counting_meter(cost, operations)
        try:
            return await self._run(message, memory, runtime, cost, merged)
        finally:
            release = getattr(cost, "release", None)
            if callable(release):  # free budget reserved by calls the agent never recorded
                released = release()
                if inspect.isawaitable(released):
                    await released

    async def _run(
        self,
        message: Message,
        memory: ConversationMemory,
        runtime: MessageRuntime,
        cost: CostMeter,
        merged: tuple[Message, ...],
    ) -> TurnOutcome:
        key = message.key
        pricing = self.pricing
        if pricing is not None:
            try:
                await pricing.check_payment(message, self.store)
            except PaymentError as exc:
                _log.info("refused %s: %s", key, exc)
                return TurnOutcome([Reply(text=str(exc))], "payment")
            try:
                await pricing.check_budget(self.store, message.conversation_key)
            except BudgetExceededError as exc:
                _log.info("budget used up, not running the agent for %s: %s", key, exc)
                return self._reply(self.budget_reply, "budget")
        stream = self.stream_lookup(message) if self.stream_lookup is not None else None
        context = AgentContext(
            message=message,
            memory=memory,
            cost=cost,
            runtime=runtime,
            logger=KeyedLogger(_agent_log, {"message_key": key}),
            store=self.store,
            streaming=stream is not None,
            merged=merged,
            media=(self.media or MediaFetcher()).for_source(message.source),
            _stream=stream,
        )
        timeout = self.agent_timeout
        try:
            async with self._deadlines.timeout(timeout) as deadline:
                with pipeline.invoke_agent(message, self.agent):
                    result: AgentResult = await self.agent(message, context)
            replies = normalize_result(result)
        except BudgetExceededError as exc:
            _log.info("budget stopped the agent on %s: %s", key, exc)
            return self._reply(self.budget_reply, "budget")
        except TimeoutError:
            if not deadline.expired():
                _log.exception("the agent raised on %s", key)
                return self._reply(self.error_reply, "error")
            _log.error("the agent timed out on %s after %ss", key, timeout)
            return self._reply(self.error_reply, "timeout")
        except Exception:  # the user's code: any fault becomes the error reply
            _log.exception("the agent raised on %s", key)
            return self._reply(self.error_reply, "error")
        try:
            await _remember(memory, message, replies)
        except Exception:  # a memory write failing must not lose the replies
            _log.exception("saving the turn of %s to memory failed", key)
        return TurnOutcome(_with_usage(replies, cost))

    @staticmethod
    def _reply(text: str | None, outcome: Outcome) -> TurnOutcome:
        return error_outcome(text, outcome)


def error_outcome(text: str | None, outcome: Outcome) -> TurnOutcome:
    """A turn that ended without the agent's answer: ``text`` as its one reply (marked with
    ``outcome``), or no reply when ``text`` is None."""
    reply = Reply(text=text, metadata={OUTCOME_KEY: outcome}) if text else None
    return TurnOutcome([reply] if reply else [], outcome)


class ConversationAgent(RoutedAgent):
    """The actor of one conversation (its agent key is the conversation key)."""

    def __init__(self, handler: TurnHandler) -> None:
        super().__init__("agent-runner conversation")
        self._handler = handler
        self._memory: ConversationMemory | None = None

    async def save_state(self) -> Mapping[str, Any]:
        """Nothing to save: the conversation's memory lives in the store."""
        return {}

    async def load_state(self, state: Mapping[str, Any]) -> None:
        """Nothing to load: the memory view is reloaded from the store on the next turn."""

    @rpc
    async def on_turn(self, message: Turn, ctx: MessageContext) -> TurnResult:
        token = ctx.cancellation_token if message.cancellable else None
        handler = self._handler
        if handler.times_turns and handler.operations is not None:
            began = clock()
            done = await self.take_turn(message.message, message.merged, token, message.trace)
            handler.operations.agent_finished(done.outcome, clock() - began)
        else:
            done = await self.take_turn(message.message, message.merged, token, message.trace)
        return TurnResult(replies=done.replies, outcome=done.outcome)

    async def take_turn(
        self,
        message: Message,
        merged: tuple[Message, ...] = (),
        token: CancellationToken | None = None,
        trace: Mapping[str, str] | None = None,
    ) -> TurnOutcome:
        """The turn of ``message`` (``merged`` folded in); a ``token`` makes it cancellable
        (its cancellation reaches the agent and its model call). ``trace``: the sender's
        trace context when it comes from another process (in process, the current one
        goes on)."""
        with pipeline.turn(message, trace):
            if self._memory is None:
                self._memory = await self._handler.load_memory(self.id.key)
            run = self._handler.run(message, self._memory, self.runtime, merged)
            if token is None:
                return await run
            task = asyncio.ensure_future(run)
            token.link_future(task)
            return await task


async def run_turn(
    runtime: MessageRuntime,
    message: Message,
    merged: tuple[Message, ...] = (),
    token: CancellationToken | None = None,
    *,
    error_reply: str | None,
) -> TurnOutcome | TurnResult:
    """The turn of ``message`` (``merged`` folded in; cancellable by ``token``) by its
    conversation's actor on ``runtime``: a live actor of an in-process runtime takes it in
    this task (``claim_turn``), any other gets it sent as a :class:`Turn`. A failure of the
    runtime (not of the agent: the actor answers that) gives the ``error_reply``."""
    recipient = AgentId(CONVERSATION_AGENT_TYPE, message.conversation_key)
    local = runtime if isinstance(runtime, SingleThreadedAgentRuntime) else None
    try:
        if local is not None and (actor := local.claim_turn(recipient)) is not None:
            try:
                return await cast(ConversationAgent, actor).take_turn(message, merged, token)
            finally:
                local.release_turn(recipient)
        trace = spans.carrier()  # None while tracing is off
        turn = (
            Turn(message=message)
            if not merged and token is None and trace is None
            else Turn(message=message, merged=merged, cancellable=token is not None, trace=trace)
        )
        result = await runtime.send_message(turn, recipient, cancellation_token=token)
    except Exception:
        _log.exception("the core runtime failed to run the turn of %s", message.key)
        return error_outcome(error_reply, "error")
    if not isinstance(result, TurnResult):
        result = TurnResult.model_validate(result)
    return result


async def register_conversation_agent(
    runtime: MessageRuntime, handler: TurnHandler, *, host: bool = True
) -> None:
    """Register the conversation actor's message serializers on ``runtime`` and, unless
    ``host`` is false (a replica that sends turns but runs none), its agent type."""
    runtime.add_message_serializer(try_get_known_serializers_for_type(Turn))
    runtime.add_message_serializer(try_get_known_serializers_for_type(TurnResult))
    if host:
        await ConversationAgent.register(
            runtime, CONVERSATION_AGENT_TYPE, lambda: ConversationAgent(handler)
        )


__all__ = [
    "CONVERSATION_AGENT_TYPE",
    "ConversationAgent",
    "Turn",
    "TurnHandler",
    "TurnOutcome",
    "TurnResult",
    "error_outcome",
    "register_conversation_agent",
    "run_turn",
]
