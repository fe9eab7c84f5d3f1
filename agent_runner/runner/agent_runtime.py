"""``AgentRuntime``: the I/O runner users meet first.

Inputs push messages into the runner's sink; each message is validated, checked by the loop
guards, journaled in the store, and queued in its conversation's mailbox; the conversation's
actor in the core message runtime runs the agent; the replies go to the outputs. See
:class:`AgentRuntime` for the whole contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from agent_runner.agent import Agent, AgentFunction
from agent_runner.connector import Accepted, AgentInput, AgentOutput, StreamingOutput
from agent_runner.core import MessageRuntime, SingleThreadedAgentRuntime
from agent_runner.errors import ConfigurationError
from agent_runner.media import MediaFetcher
from agent_runner.memory import ShortTermMemory
from agent_runner.message import Message
from agent_runner.observability import AdminSettings, OperatorEndpoint, worker_operations
from agent_runner.pricing import Pricing
from agent_runner.runner import double_texting as texting
from agent_runner.runner.config import (
    agent_function,
    check_routes,
    checked_inputs,
    default_store,
    hosts_conversations,
    loop_guard,
    outputs_by_name,
)
from agent_runner.runner.conversation import TurnHandler, register_conversation_agent
from agent_runner.runner.ingest import Ingest
from agent_runner.runner.leadership import InputLeases, Leadership
from agent_runner.runner.lifecycle import (
    close_quietly,
    close_store,
    drain_within,
    open_connectors,
    start_runtime,
    stop_inputs,
    stop_runtime,
    wait_either,
)
from agent_runner.runner.mailboxes import ConversationMailboxes
from agent_runner.runner.recovery import Recovery
from agent_runner.runner.replies import ReplySender
from agent_runner.runner.signals import graceful_stop, stop_on_signals
from agent_runner.runner.turn_context import stream_lookup
from agent_runner.store import Store
from agent_runner.tracing import tracing_session

_log = logging.getLogger("agent_runner.runtime")

DEFAULT_ERROR_REPLY = "Sorry, something went wrong while handling your message."
DEFAULT_BUDGET_REPLY = "Sorry, I have reached my spending limit and cannot answer right now."


class AgentRuntime:
    """Runs an agent forever: inputs in, replies out, one conversation at a time each.

    Creating it is cheap and starts nothing; :meth:`run` opens the store and connectors,
    recovers unanswered inputs from the journal, starts the inputs and loops until
    :meth:`stop`, SIGTERM or SIGINT (a second signal cuts the shutdown grace short).

    Delivery: the sink returns once the message is journaled; a journaled message is handled
    at least once (after a crash, on the next start; with replicas, by a live replica
    without a restart: :mod:`~agent_runner.runner.recovery`). Each reply is in the reply ledger
    before it is sent; a send a crash cut is resolved on the next start by the output's
    delivery contract (resent, reconciled or reported lost: :mod:`agent_runner.connector`).

    Args:
        inputs: connectors that push messages (``AgentInput``).
        outputs: connectors that send replies (``AgentOutput``); a connector may be both.
        agent: an :class:`~agent_runner.agent.Agent` (``execute(message, context)``) or a
            plain async function ``(message, context)``.
        short_term_memory: per-conversation memory, persisted in the store; ``None`` gives
            the agent an always-empty memory.
        pricing: cost metering, budgets and payment gating; ``None`` turns them off.
        store: journal, reply ledger, cursors, memory, costs. Default: a SQLiteStore at
            ``$AGENT_RUNNER_DATA_DIR/{name}.sqlite3``, one per bot.
        name: the bot's name (default: ``AGENT_RUNNER_NAME``, else its file's name).
        runtime: the core ``MessageRuntime`` carrying conversation turns (default: a new
            ``SingleThreadedAgentRuntime``). The runner starts it (and stops it at the end)
            unless it is already running, in which case it stays the caller's.
        routes: input name -> output names, replacing the default for that input (the
            output named ``message.source``): ``{"cron": ["x"]}`` posts cron's replies on X.
        max_concurrency: how many agent turns run at once (across conversations).
        max_pending: how many accepted messages may wait in the conversations' mailboxes;
            beyond it the sink waits for room (back-pressure: inputs slow down).
        agent_timeout: seconds an agent may take on one message (``None``: no limit).
        error_reply: sent when the agent raises or times out (``None``: no reply).
        budget_reply: sent when a budget stops the agent (``None``: no reply).
        double_texting, busy_reply: see :mod:`~agent_runner.runner.double_texting`.
        allow_bots: let messages from other bots (``author.is_bot``) through.
        ignore_authors: author ids whose messages are dropped (the bot's own accounts).
        max_reply_depth: messages deeper than this many bot replies are refused.
        output_retries: how many times a failed send is retried before it is recorded as
            failed (``DeliveryError`` gives up at once).
        retry_base_delay: first wait between retries (and input restarts), seconds.
        retry_max_delay: longest wait between retries (and input restarts), seconds.
        shutdown_grace: seconds the shutdown may take (inputs returning, then in-flight and
            queued work finishing); what is left stays journaled for the next start.
        handle_signals: stop on SIGTERM/SIGINT (only on the main thread).
        input_leases: run single-consumer inputs in one replica at a time under store leases,
            and take over the unanswered messages of replicas that died
            (:class:`InputLeases`, True or False; default: on with a RedisStore).
        host_conversations: run conversation turns in this process (default:
            ``AGENT_RUNNER_HOST_CONVERSATIONS``, true). False makes an ingest-only replica: it
            takes input, journals it and sends the replies, while the turns run on the other
            replicas and workers of a distributed ``runtime`` (required then).
        admin: the operator endpoint (metrics, health, status page; default: from
            ``AGENT_RUNNER_ADMIN_*``); port 0 turns it off. See :attr:`operator`.

    Example:
        >>> from connectors.inmemory import InMemoryConnector
        >>> async def echo(message, context):
        ...     return message.text
        >>> chat = InMemoryConnector()
        >>> runtime = AgentRuntime([chat], [chat], echo)
        >>> # asyncio.run(runtime.run())  # until SIGTERM / SIGINT / runtime.stop()
    """

    def __init__(
        self,
        inputs: Sequence[AgentInput],
        outputs: Sequence[AgentOutput],
        agent: Agent | AgentFunction,
        short_term_memory: ShortTermMemory | None = None,
        pricing: Pricing | None = None,
        *,
        store: Store | None = None,
        name: str | None = None,
        runtime: MessageRuntime | None = None,
        routes: Mapping[str, Sequence[str]] | None = None,
        max_concurrency: int = 64,
        max_pending: int = 10_000,
        agent_timeout: float | None = 120.0,
        error_reply: str | None = DEFAULT_ERROR_REPLY,
        budget_reply: str | None = DEFAULT_BUDGET_REPLY,
        double_texting: texting.DoubleTextingRule = "enqueue",
        busy_reply: str | None = texting.DEFAULT_BUSY_REPLY,
        allow_bots: bool = False,
        ignore_authors: Collection[str] = (),
        max_reply_depth: int = 8,
        output_retries: int = 3,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 30.0,
        shutdown_grace: float = 30.0,
        handle_signals: bool = True,
        input_leases: InputLeases | bool | None = None,
        host_conversations: bool | None = None,
        admin: AdminSettings | None = None,
    ) -> None:
        self._inputs = checked_inputs(inputs)
        self._outputs = outputs_by_name(outputs)
        self._streaming = {  # isinstance on a runtime Protocol is slow: check once
            name: out for name, out in self._outputs.items() if isinstance(out, StreamingOutput)
        }
        self._agent = agent
        function = agent_function(agent)
        self._routes = check_routes(routes, self._outputs)
        if max_concurrency < 1 or max_pending < 1:
            raise ConfigurationError("max_concurrency and max_pending must be >= 1")
        if shutdown_grace < 0:
            raise ConfigurationError(f"shutdown_grace must be >= 0, not {shutdown_grace}")
        self._max_concurrency = max_concurrency
        self._max_pending = max_pending
        self._error_reply = error_reply
        self._texting = texting.TextingPolicy.of(double_texting, busy_reply)
        self._retry_base = retry_base_delay
        self._retry_max = retry_max_delay
        self._shutdown_grace = shutdown_grace
        self._deadline: float | None = None
        self._handle_signals = handle_signals
        self._name = name
        self.store: Store = store if store is not None else default_store(name)
        """The runner's store (journal, replies, cursors, memory, ledger)."""
        self.leadership = Leadership.of(input_leases, self.store, self._inputs)  # replicas
        self.recovery = Recovery(
            self.store,
            leases=self.leadership.leases,
            holder=self.leadership.holder,
            sources={*(i.name for i in self._inputs), *self._outputs},
        )
        """Accepted messages not yet answered: at start, and from replicas that died."""
        self.leadership.before_input = self.recovery.sweep
        journal = self.recovery.view()  # journal writes name this replica (with replicas)
        self.operator = OperatorEndpoint.configured(admin)
        """The operator endpoint (``None`` when off): ``.metrics``, ``.url``, ``.add_routes``."""
        ops = self.leadership.operations = self.operator.metrics if self.operator else None
        self._turns = TurnHandler(
            agent=function,
            store=self.store,
            short_term_memory=short_term_memory,
            pricing=pricing,
            agent_timeout=agent_timeout,
            error_reply=error_reply,
            budget_reply=budget_reply,
            stream_lookup=stream_lookup(self._streaming),
            media=MediaFetcher.for_connectors(self._inputs),
            operations=ops,
        )
        self._replies = ReplySender(
            store=journal,
            outputs=self._outputs,
            routes=self._routes,
            retries=output_retries,
            base_delay=retry_base_delay,
            max_delay=retry_max_delay,
            sources={**{i.name: i for i in self._inputs}, **self._outputs},
            counts=ops.replies.values if ops is not None else None,
        )
        self._runtime_given = runtime is not None
        self.runtime: MessageRuntime = (
            runtime if runtime is not None else SingleThreadedAgentRuntime(idle_timeout=600.0)
        )
        """The core message runtime carrying the conversation actors."""
        if self.operator is not None:
            self.operator.watch(self.runtime, self.recovery)  # partitions, RPCs, take-overs
        self._host = hosts_conversations(host_conversations, self.runtime)
        self._started = asyncio.Event()
        self._ended = asyncio.Event()
        self._stop = asyncio.Event()
        self._hurry = asyncio.Event()
        self._ingest = Ingest(
            store=journal,
            guard=loop_guard(ignore_authors, allow_bots, max_reply_depth),
            max_pending=max_pending,
            operations=ops,
            received=ops.received.values if ops is not None else None,
        )
        self._running = False
        self._registered_on: MessageRuntime | None = None

    # -- public ----------------------------------------------------------------------
    async def run(self) -> None:
        """Run until :meth:`stop`, SIGTERM or SIGINT, then shut down gracefully and return.

        Raises:
            RuntimeError: when this runner is already running.
            Exception: whatever opening the store or a connector raised (what was opened
                is closed again first).
        """
        if self._running:
            raise RuntimeError("this AgentRuntime is already running")
        self._running = True
        self._ended.clear()
        self._hurry.clear()
        loop = asyncio.get_running_loop()
        try:
            on_signal = graceful_stop(self._stop, self._hurry)
            with stop_on_signals(loop, on_signal, enabled=self._handle_signals):
                async with contextlib.AsyncExitStack() as stack:
                    await self._open(stack)
                    await self._serve()
        finally:
            self._running = False
            self._ingest.accepting = False
            self._stop.clear()
            self._ended.set()

    async def stop(self) -> None:
        """Ask :meth:`run` to shut down (returns at once; ``run()`` returns when done)."""
        self._stop.set()

    async def wait_started(self) -> None:
        """Wait until :meth:`run` has recovered the journal and started every input.

        Raises:
            RuntimeError: ``run()`` ended (failed or stopped) before the runner was up.
        """
        await wait_either(self._started, self._ended)
        if not self._started.is_set():
            raise RuntimeError("the runner is not running (run() ended or failed)")

    @property
    def started(self) -> asyncio.Event:
        """Set while the runner is up (inputs started, not yet shutting down).

        ``runtime.started.is_set()`` to check; ``await runtime.wait_started()`` to wait (it
        also raises when ``run()`` fails before the runner is up).
        """
        return self._started

    async def sink(self, data: Message | Mapping[str, Any], /) -> Accepted:
        """Accept one message, as inputs do (``await sink(message_or_mapping)``).

        Returns once the message is journaled; it is then handled in order within its
        conversation.

        Raises:
            InvalidMessageError: ``data`` is not a valid message (``reason`` says why).
            RefusedMessageError: a loop guard refused it (own/ignored author, another bot,
                too deep).
            ConnectorError: the runner is not accepting input (not started or stopping).
            StoreError: the journal failed; the message was not accepted.
        """
        return await self._ingest(data)

    async def register_conversations(self, runtime: MessageRuntime) -> None:
        """Host this runner's conversation actors on another core runtime (a worker process).

        With a distributed ``runtime``, the runner process takes the input, journals it and
        delivers the replies, while the agent turns run on whichever worker owns the
        conversation. A worker runs the same agent, store, memory and pricing; this opens
        the store (it stays open for the worker's life) and registers the actor type.
        Streaming is off on a worker (the outputs live in the runner process).

        Example:
            ::

                # bot.py builds `runner = AgentRuntime(..., store=RedisStore(url),
                #                                      runtime=DistributedAgentRuntime(url))`
                # workers.py, run with `agent-runner worker workers`:
                from bot import runner

                async def register(runtime):
                    await runner.register_conversations(runtime)
        """
        await self.store.open()
        hooks = worker_operations.get()  # the worker's endpoint (agent-runner worker), if any
        turns = replace(self._turns, stream_lookup=None, operations=hooks, times_turns=True)
        await register_conversation_agent(runtime, turns)

    # -- lifecycle -------------------------------------------------------------------
    async def _open(self, stack: contextlib.AsyncExitStack) -> None:
        await stack.enter_async_context(tracing_session(self._name))  # flushed last
        await self.store.open()
        stack.push_async_callback(close_store, self.store)
        agent_close = getattr(self._agent, "close", None)
        if callable(agent_close):  # e.g. an LLMAgent's HTTP client; closed after the drain
            stack.push_async_callback(close_quietly, self._agent, agent_close)
        connectors = [*self._inputs, *self._outputs.values()]
        ops = self._turns.operations
        await open_connectors(stack, connectors, self.store, self.leadership.store_for, ops)
        if self._registered_on is not self.runtime:  # once per core runtime (run() again)
            await register_conversation_agent(self.runtime, self._turns, host=self._host)
            self._registered_on = self.runtime
        if await start_runtime(self.runtime, owned=not self._runtime_given):
            stack.push_async_callback(stop_runtime, self.runtime)
        mailboxes = self._ingest.mailboxes = ConversationMailboxes(
            runtime=self.runtime,
            replies=self._replies,
            max_concurrency=self._max_concurrency,
            max_pending=self._max_pending,
            error_reply=self._error_reply,
            texting=self._texting,
            operations=ops,
        )
        if self.operator is not None:
            await self.operator.start(
                store=self.store, ready=self._started, pending=lambda: mailboxes.pending,
                connectors=connectors, pricing=self._turns.pricing,
                runs_here=self.leadership.runs_here,
            )  # fmt: skip
            stack.push_async_callback(self.operator.stop)
        # Last in, first out: drain the turns before this replica's messages are let go to
        # the others (recovery), the runtime stops and the store closes.
        stack.push_async_callback(self.recovery.close)
        stack.push_async_callback(self._drain)

    async def _serve(self) -> None:
        mailboxes = self._ingest.mailboxes
        assert mailboxes is not None
        await self.recovery.start(mailboxes.submit, stop=self._stop)
        self._ingest.accepting = True
        inputs = self.leadership.start(
            self._inputs, self._ingest, stop=self._stop, base=self._retry_base, cap=self._retry_max
        )
        self._started.set()
        _log.info(
            "agent runner started: inputs %s, outputs %s",
            [i.name for i in self._inputs],
            list(self._outputs),
        )
        try:
            await self._stop.wait()
        finally:
            _log.info("agent runner stopping")
            self._started.clear()
            loop = asyncio.get_running_loop()
            self._deadline = loop.time() + self._shutdown_grace  # one grace for all of it
            await stop_inputs(self._inputs, inputs, grace=self._shutdown_grace)
            await self.recovery.quiesce()  # nothing taken over once the mailboxes drain
            self._ingest.accepting = False

    async def _drain(self) -> None:
        if self._ingest.mailboxes is not None:
            deadline, self._deadline = self._deadline, None
            await drain_within(self._ingest.mailboxes, self._shutdown_grace, deadline, self._hurry)
            self._ingest.mailboxes = None


__all__ = ["DEFAULT_BUDGET_REPLY", "DEFAULT_ERROR_REPLY", "AgentRuntime"]
