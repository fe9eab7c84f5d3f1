"""Sending replies to outputs: routing, the at-most-once claim, capped retries.

Routing, for each reply of a message (first match wins):

1. ``Reply.targets`` when the agent set them;
2. ``routes[message.source]`` when the runner was given routes for that input;
3. the output whose ``name`` equals ``message.source`` (a Discord message is answered on
   Discord). Never a broadcast.

For each reply ``i`` and output, the store's claim ``reply_claim(f"{key}#{i}", output)`` comes
first: only the first claimant ever (this process after a restart, or another process on the
same store) sends it. Then ``output.send`` is tried with capped exponential backoff;
:class:`~agent_runner.errors.DeliveryError` gives up at once. The outcome is recorded with
``reply_result``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agent_runner.backoff import RetryPolicy
from agent_runner.connector import AgentOutput
from agent_runner.errors import ConfigurationError, DeliveryError, RateLimitedError
from agent_runner.message import Message, Reply
from agent_runner.store import Store

_log = logging.getLogger("agent_runner.runtime")


def route(
    message: Message,
    reply: Reply,
    *,
    outputs: Sequence[str],
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
    else:
        wanted = (message.source,)
    known = set(outputs)
    names: list[str] = []
    for name in wanted:
        if name not in names:
            names.append(name)
    return [n for n in names if n in known], [n for n in names if n not in known]


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

    def __post_init__(self) -> None:
        if self.retries < 0 or self.base_delay < 0 or self.max_delay < 0:
            raise ConfigurationError("output_retries and retry delays must be >= 0")

    async def send(self, message: Message, replies: Sequence[Reply]) -> None:
        """Send every reply of ``message`` (in order, per output), then complete its journal."""
        names = list(self.outputs)
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
                await self._send_one(message, reply, f"{message.key}#{index}", name)
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

    async def _send_one(self, message: Message, reply: Reply, key: str, name: str) -> None:
        output = self.outputs[name]
        needs_claim = getattr(output, "needs_claim", None)
        claimed = needs_claim is None or needs_claim(message)
        if claimed and not await self.store.reply_claim(key, name):
            _log.info("reply %s to %r was claimed before (already sent); skipped", key, name)
            return
        attempt = 0
        while True:
            try:
                await output.send(message, reply)
            except DeliveryError as exc:
                return await self._failed(key, name, exc, attempt + 1, claimed=claimed)
            except Exception as exc:  # an output's fault must not stop the loop
                attempt += 1
                retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
                wait = RetryPolicy(
                    retries=self.retries, base=self.base_delay, cap=self.max_delay
                ).wait(attempt, retry_after=retry_after)
                if wait is None:
                    return await self._failed(key, name, exc, attempt, claimed=claimed)
                _log.warning(
                    "reply %s to %r failed (attempt %d of %d), retrying in %.2fs: %r",
                    key,
                    name,
                    attempt,
                    self.retries + 1,
                    wait,
                    exc,
                )
                await asyncio.sleep(wait)
            else:
                if claimed:
                    await self.store.reply_result(key, name, ok=True)
                return

    async def _failed(
        self, key: str, name: str, exc: BaseException, attempts: int, *, claimed: bool
    ) -> None:
        _log.error(
            "reply %s to %r failed after %d attempt(s); giving up: %r", key, name, attempts, exc
        )
        if claimed:
            error = f"{type(exc).__name__}: {exc}"
            await self.store.reply_result(key, name, ok=False, error=error)


__all__ = ["ReplySender", "route"]
