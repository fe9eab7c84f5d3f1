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
import signal
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

from agent_runner.agent import Agent, AgentFunction
from agent_runner.connector import Accepted, AgentInput, AgentOutput, StreamingOutput
from agent_runner.core import MessageRuntime, SingleThreadedAgentRuntime
from agent_runner.errors import ConfigurationError, ConnectorError, InvalidMessageError
from agent_runner.memory import ShortTermMemory
from agent_runner.message import Message
from agent_runner.pricing import Pricing
from agent_runner.runner.config import (
    agent_function,
    check_routes,
    default_store,
    loop_guard,
    outputs_by_name,
)
from agent_runner.runner.conversation import TurnHandler, register_conversation_agent
from agent_runner.runner.guards import RefusedMessageError
from agent_runner.runner.lifecycle import (
    close_connector,
    start_runtime,
    stop_inputs,
    stop_runtime,
    supervise_input,
    unique_connectors,
)
from agent_runner.runner.mailboxes import Dispatcher
from agent_runner.runner.replies import Deliverer
from agent_runner.runner.signals import stop_on_signals
from agent_runner.store import Store

_log = logging.getLogger("agent_runner.runtime")

DEFAULT_ERROR_REPLY = "Sorry, something went wrong while handling your message."
DEFAULT_BUDGET_REPLY = "Sorry, I have reached my spending limit and cannot answer right now."


class AgentRuntime:
    """Runs an agent forever: inputs in, replies out, one conversation at a time each.

    Creating it is cheap and starts nothing; :meth:`run` opens the store and connectors,
    recovers unanswered inputs from the journal, starts the inputs and loops until
    :meth:`stop`, SIGTERM or SIGINT (a second signal cuts the shutdown grace short).

    Delivery: the sink returns once the message is journaled; a journaled message is handled
    at least once (after a crash, on the next start). Each reply is claimed in the store
    before it is sent, so it is sent at most once per output, also by a second process on
    the same store; a crash between the claim and the send loses that one reply rather than
    sending it twice.

    Args:
        inputs: connectors that push messages (``AgentInput``).
        outputs: connectors that send replies (``AgentOutput``); a connector may be both.
        agent: an :class:`~agent_runner.agent.Agent` (``execute(message, context)``) or a
            plain async function ``(message, context)``.
        short_term_memory: per-conversation memory, persisted in the store; ``None`` gives
            the agent an always-empty memory.
        pricing: cost metering, budgets and payment gating; ``None`` turns them off.
        store: journal, reply claims, cursors, memory, ledger. Default: a SQLiteStore at
            ``$AGENT_RUNNER_DATA_DIR/agent-runner.sqlite3``.
        runtime: the core ``MessageRuntime`` carrying conversation turns (default: a new
            ``SingleThreadedAgentRuntime``). The runner starts it (and stops it at the end)
            unless it is already running, in which case it stays the caller's.
        routes: input name -> output names, replacing the default for that input (the
            output whose name equals ``message.source``). ``{"cron": ["x"]}`` posts the
            replies to cron messages on X.
        max_concurrency: how many agent turns run at once (across conversations).
        max_pending: how many accepted messages may wait in the conversations' mailboxes;
            beyond it the sink waits for room (back-pressure: inputs slow down instead of
            the process growing without bound).
        agent_timeout: seconds an agent may take on one message (``None``: no limit).
        error_reply: sent when the agent raises or times out (``None``: no reply).
        budget_reply: sent when a budget stops the agent (``None``: no reply).
        allow_bots: let messages from other bots (``author.is_bot``) through.
        ignore_authors: author ids whose messages are dropped (the bot's own accounts).
        max_reply_depth: messages deeper than this many bot replies are refused.
        output_retries: how many times a failed send is retried before it is recorded as
            failed (``DeliveryError`` gives up at once).
        retry_base_delay: first wait between retries (and input restarts), seconds.
        retry_max_delay: longest wait between retries (and input restarts), seconds.
        shutdown_grace: seconds the shutdown may take (inputs returning, then in-flight and
            queued work finishing); what is left stays journaled and is handled on the
            next start.
        handle_signals: stop on SIGTERM/SIGINT (only on the main thread).

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
        runtime: MessageRuntime | None = None,
        routes: Mapping[str, Sequence[str]] | None = None,
        max_concurrency: int = 64,
        max_pending: int = 10_000,
        agent_timeout: float | None = 120.0,
        error_reply: str | None = DEFAULT_ERROR_REPLY,
        budget_reply: str | None = DEFAULT_BUDGET_REPLY,
        allow_bots: bool = False,
        ignore_authors: Collection[str] = (),
        max_reply_depth: int = 8,
        output_retries: int = 3,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 30.0,
        shutdown_grace: float = 30.0,
        handle_signals: bool = True,
    ) -> None:
        self._inputs = list(inputs)
        self._outputs = outputs_by_name(outputs)
        self._streaming = {  # isinstance on a runtime Protocol is slow: check once
            name: out for name, out in self._outputs.items() if isinstance(out, StreamingOutput)
        }
        self._agent = agent_function(agent)
        self._agent_object = agent
        self._memory = short_term_memory
        self._pricing = pricing
        self._routes = check_routes(routes, self._outputs)
        if max_concurrency < 1 or max_pending < 1:
            raise ConfigurationError("max_concurrency and max_pending must be >= 1")
        if agent_timeout is not None and agent_timeout <= 0:
            raise ConfigurationError(f"agent_timeout must be > 0 or None, not {agent_timeout}")
        if output_retries < 0 or retry_base_delay < 0 or retry_max_delay < 0:
            raise ConfigurationError("output_retries and retry delays must be >= 0")
        if shutdown_grace < 0:
            raise ConfigurationError(f"shutdown_grace must be >= 0, not {shutdown_grace}")
        self._guard = loop_guard(ignore_authors, allow_bots, max_reply_depth)
        self._max_concurrency = max_concurrency
        self._max_pending = max_pending
        self._agent_timeout = agent_timeout
        self._error_reply = error_reply
        self._budget_reply = budget_reply
        self._output_retries = output_retries
        self._retry_base = retry_base_delay
        self._retry_max = retry_max_delay
        self._shutdown_grace = shutdown_grace
        self._deadline: float | None = None
        self._handle_signals = handle_signals
        self._store_given = store is not None
        self.store: Store = store if store is not None else default_store()
        """The runner's store (journal, replies, cursors, memory, ledger)."""
        self._runtime_given = runtime is not None
        self.runtime: MessageRuntime = (
            runtime if runtime is not None else SingleThreadedAgentRuntime(idle_timeout=600.0)
        )
        """The core message runtime carrying the conversation actors."""
        self._started = asyncio.Event()
        self._ended = asyncio.Event()
        self._stop = asyncio.Event()
        self._hurry = asyncio.Event()
        self._accepting = False
        self._dispatcher: Dispatcher | None = None
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
            with stop_on_signals(loop, self._on_signal, enabled=self._handle_signals):
                async with contextlib.AsyncExitStack() as stack:
                    await self._open(stack)
                    await self._serve()
        finally:
            self._running = False
            self._accepting = False
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
        if self._started.is_set():
            return
        started = asyncio.ensure_future(self._started.wait())
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait({started, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            started.cancel()
            ended.cancel()
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
        try:
            message = Message.parse(data)
        except InvalidMessageError as exc:
            _log.warning("refused input from %s: %s", _source_of(data), exc.reason)
            raise
        reason = self._guard.check(message)
        if reason is not None:
            _log.info("refused %s: %s", message.key, reason)
            raise RefusedMessageError(reason)
        dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher.pending >= self._max_pending:
            await dispatcher.wait_for_room()
        if dispatcher is None or not self._accepting or dispatcher is not self._dispatcher:
            raise ConnectorError(f"the runner is not accepting input; {message.key} refused")
        accepted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        dispatcher.submit(message, accepted)  # its place in the conversation's order
        try:
            fresh = await self.store.journal_accept(
                message.key, message.conversation_key, message.model_dump_json()
            )
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
        return Accepted(message.key, duplicate=not fresh)

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
        await register_conversation_agent(runtime, self._turn_handler(streaming=False))

    # -- lifecycle -------------------------------------------------------------------
    def _turn_handler(self, *, streaming: bool) -> TurnHandler:
        return TurnHandler(
            agent=self._agent,
            store=self.store,
            memory=self._memory,
            pricing=self._pricing,
            agent_timeout=self._agent_timeout,
            error_reply=self._error_reply,
            budget_reply=self._budget_reply,
            stream_lookup=self._stream_lookup if streaming else None,
        )

    async def _open(self, stack: contextlib.AsyncExitStack) -> None:
        await self.store.open()
        stack.push_async_callback(self._close_store)
        agent_close = getattr(self._agent_object, "close", None)
        if callable(agent_close):  # e.g. an LLMAgent's HTTP client; closed after the drain
            stack.push_async_callback(close_connector, self._agent_object, agent_close)
        connectors = unique_connectors([*self._inputs, *self._outputs.values()])
        for connector in connectors:
            bind = getattr(connector, "bind_store", None)
            if callable(bind):
                bind(self.store)
        for connector in connectors:
            opener = getattr(connector, "open", None)
            if callable(opener):
                await opener()
            closer = getattr(connector, "close", None)
            if callable(closer):
                stack.push_async_callback(close_connector, connector, closer)
        if self._registered_on is not self.runtime:  # once per core runtime (run() again)
            await register_conversation_agent(self.runtime, self._turn_handler(streaming=True))
            self._registered_on = self.runtime
        if await start_runtime(self.runtime, owned=not self._runtime_given):
            stack.push_async_callback(stop_runtime, self.runtime)
        deliverer = Deliverer(
            store=self.store,
            outputs=self._outputs,
            routes=self._routes,
            retries=self._output_retries,
            base_delay=self._retry_base,
            max_delay=self._retry_max,
            sources={
                **{c.name: c for c in self._inputs},
                **self._outputs,
            },
        )
        self._dispatcher = Dispatcher(
            runtime=self.runtime,
            deliverer=deliverer,
            max_concurrency=self._max_concurrency,
            max_pending=self._max_pending,
            error_reply=self._error_reply,
        )
        # Last in, first out: drain the turns before the runtime stops and the store closes.
        stack.push_async_callback(self._drain)

    async def _serve(self) -> None:
        dispatcher = self._dispatcher
        assert dispatcher is not None
        await self._recover(dispatcher)
        self._accepting = True
        inputs = [
            asyncio.create_task(
                supervise_input(
                    i, self.sink, stop=self._stop, base=self._retry_base, cap=self._retry_max
                ),
                name=f"agent-runner input {i.name}",
            )
            for i in self._inputs
        ]
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
            self._accepting = False

    async def _recover(self, dispatcher: Dispatcher) -> None:
        pending = await self.store.journal_pending()
        if not pending:
            return
        loop = asyncio.get_running_loop()
        _log.info("recovering %d accepted input(s) not yet answered", len(pending))
        for entry in pending:
            try:
                message = Message.model_validate_json(entry.payload)
            except ValueError as exc:
                _log.error("journal entry %s cannot be read, dropped: %s", entry.key, exc)
                await self.store.journal_complete(entry.key)
                continue
            accepted: asyncio.Future[bool] = loop.create_future()
            accepted.set_result(True)
            dispatcher.submit(message, accepted)

    async def _drain(self) -> None:
        dispatcher = self._dispatcher
        if dispatcher is None:
            return
        loop = asyncio.get_running_loop()
        deadline = self._deadline
        if deadline is None:
            deadline = loop.time() + self._shutdown_grace
        self._deadline = None
        join = asyncio.ensure_future(dispatcher.join(max(0.0, deadline - loop.time())))
        hurry = asyncio.ensure_future(self._hurry.wait())
        try:
            await asyncio.wait({join, hurry}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hurry.cancel()
            join.cancel()
        if not (join.done() and not join.cancelled() and join.result()):
            cancelled = await dispatcher.cancel()
            _log.warning(
                "shutdown grace (%ss) over: %d conversation(s) cut short; their messages "
                "stay journaled and are handled on the next start",
                self._shutdown_grace,
                cancelled,
            )
        self._dispatcher = None

    async def _close_store(self) -> None:
        try:
            await self.store.flush()
        finally:
            await self.store.close()

    def _on_signal(self, sig: signal.Signals) -> None:
        if self._stop.is_set():
            _log.warning("received %s again: cutting the shutdown grace short", sig.name)
            self._hurry.set()
            return
        _log.info("received %s: shutting down (again to skip the grace period)", sig.name)
        self._stop.set()

    def _stream_lookup(self, message: Message) -> Callable[[str], Awaitable[None]] | None:
        output = self._streaming.get(message.source)
        if output is None or not output.wants_stream(message):
            return None

        async def stream(chunk: str) -> None:
            await output.send_chunk(message, chunk)

        return stream


# -- helpers -------------------------------------------------------------------------------
def _source_of(data: object) -> str:
    if isinstance(data, Mapping):
        return repr(data.get("source", "?"))[:80]
    return "?"


__all__ = ["DEFAULT_BUDGET_REPLY", "DEFAULT_ERROR_REPLY", "AgentRuntime"]
