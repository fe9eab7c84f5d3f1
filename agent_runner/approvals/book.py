"""The approvals kept in the store: requested, decided once, run at most once, resumed once.

Records live in the store's key-value state (``approval:<id>``, ``approval-pause:<id>``), so
every process on the store sees them, also after a restart. What must happen once across
processes is settled by the store's atomic first-claim (``reply_claim``, the primitive that
makes replies at most once), each under its own name:

- ``approval:<id>`` / ``decision``: the first decider wins; later ones get
  :class:`~agent_runner.errors.ApprovalError` (``reason="decided"``). The winner claims, then
  records its decision: a loser in between waits (bounded) for that record, so it (and the
  admin API's answer to it: 200 for the same decision, 409 for another) sees what was decided.
- ``approval:<id>`` / ``run``: the approved call runs at most once. A process that dies while
  the call runs leaves it claimed: handled again, the model is told the outcome is unknown,
  the call is not repeated.
- ``approval-pause:<id>`` / ``resume``: the paused turn continues once.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from agent_runner.approvals.records import (
    Approval,
    Pause,
    Verdict,
    canonical_json,
    digest,
)
from agent_runner.errors import ApprovalError, ConfigurationError
from agent_runner.message import Message
from agent_runner.store import Store

if TYPE_CHECKING:
    from agent_runner.schedules import FollowUps

DEFAULT_TTL = 3600.0
"""Seconds an approval waits for a decision before it expires."""

DECISION_WAIT = 5.0
"""Seconds a decider that lost the claim waits for the winner's record of its decision."""

DECISION_POLL = 0.02
"""Seconds between its reads of the record while it waits."""

UNKNOWN_OUTCOME = (
    "Error: the call was started before, but the process running it stopped; its outcome is "
    "unknown and it was not run again."
)


class Approvals:
    """How approvals are requested and decided; the records live in the store given to each
    call (the runner's, ``context.store``).

    Args:
        ttl: seconds an approval waits for a decision; after it, a decision is refused and
            the model is told the call expired.
        approvers: author ids allowed to decide in the chat (empty: the person whose message
            asked for the call). The admin API may always decide.
        followups: when given (and the runner has a ``FollowUpInput`` for them), an approval
            nobody decides resolves at its expiry: a follow-up ``expire <id>`` resumes the turn
            and the model is told the call expired. Without, expiry is noticed when a decision
            arrives.
        clock: the time, Unix seconds (tests inject one).

    Example:
        >>> agent = LLMAgent(client, system_prompt="...", tools=[transfer],  # doctest: +SKIP
        ...                  approvals=Approvals(ttl=600, approvers=["U123"]))
    """

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        approvers: Collection[str] = (),
        clock: Callable[[], float] = time.time,
        followups: FollowUps | None = None,
    ) -> None:
        if ttl <= 0:
            raise ConfigurationError(f"approval ttl must be > 0, not {ttl}")
        self.ttl = ttl
        self.approvers = tuple(approvers)
        self.clock = clock
        self.followups = followups

    # -- requests -------------------------------------------------------------------------
    async def request(
        self,
        store: Store,
        *,
        pause_id: str,
        message: Message,
        tool: str,
        call_id: str,
        arguments: Mapping[str, Any],
    ) -> Approval:
        """Record a pending approval of ``tool`` called with exactly ``arguments``."""
        canonical = canonical_json(arguments)
        now = self.clock()
        approval = Approval(
            id=secrets.token_hex(5),
            pause_id=pause_id,
            conversation_key=message.conversation_key,
            source=message.source,
            tool=tool,
            call_id=call_id,
            arguments=canonical,
            digest=digest(canonical),
            requested_by=message.author.id,
            approvers=self.approvers,
            created_at=now,
            expires_at=now + self.ttl,
        )
        await self.save(store, approval)
        return approval

    @staticmethod
    def new_pause_id() -> str:
        return secrets.token_hex(8)

    async def pause(self, store: Store, pause: Pause, message: Message) -> None:
        """Record the paused turn (and the message it answers, to resume in its place)."""
        state = {**pause.state, "message": message.model_dump(mode="json")}
        await store.state_set(
            f"approval-pause:{pause.id}",
            pause.model_copy(update={"state": state}).model_dump_json(),
        )

    async def get(self, store: Store, approval_id: str) -> Approval | None:
        raw = await store.state_get(f"approval:{approval_id}")
        return None if raw is None else Approval.model_validate_json(raw)

    async def get_pause(self, store: Store, pause_id: str) -> Pause | None:
        raw = await store.state_get(f"approval-pause:{pause_id}")
        return None if raw is None else Pause.model_validate_json(raw)

    @staticmethod
    async def save(store: Store, approval: Approval) -> None:
        await store.state_set(f"approval:{approval.id}", approval.model_dump_json())

    # -- decisions ------------------------------------------------------------------------
    async def decide(
        self, store: Store, approval_id: str, verdict: Verdict, *, by: str, admin: bool = False
    ) -> Approval:
        """Decide ``approval_id`` once (an expired one becomes ``expired`` whatever the
        verdict). ``admin``: decided through the admin API (any approval).

        Raises:
            ApprovalError: unknown id, ``by`` may not decide it, or it was decided before.
        """
        approval = await self.get(store, approval_id)
        if approval is None:
            raise ApprovalError(f"there is no approval {approval_id}", reason="unknown")
        now = self.clock()
        if verdict == "expire" and now < approval.expires_at:
            raise ApprovalError(f"approval {approval_id} has not expired", reason="not_allowed")
        if not admin and verdict != "expire" and not approval.may_decide(by):
            who = ", ".join(approval.approvers or (approval.requested_by,))
            raise ApprovalError(
                f"{by} may not decide approval {approval_id} (allowed: {who})",
                reason="not_allowed",
            )
        if approval.status != "pending":
            raise _decided_before(approval)
        if not await store.reply_claim(f"approval:{approval_id}", "decision"):
            raise _decided_before(await self._recorded(store, approval))
        status = (
            "expired"
            if now >= approval.expires_at
            else "approved"
            if verdict == "approve"
            else "denied"
        )
        decided = approval.model_copy(
            update={"status": status, "decided_by": by, "decided_at": now}
        )
        await self.save(store, decided)
        return decided

    async def _recorded(self, store: Store, approval: Approval) -> Approval:
        """The approval as the decider who won its claim recorded it. The winner claims, then
        saves: a decider that lost the claim in between still reads it pending, so it polls
        (every ``DECISION_POLL`` s, at most ``DECISION_WAIT`` s); still pending after
        that, the winner died between its claim and its record."""
        for _ in range(round(DECISION_WAIT / DECISION_POLL)):
            latest = await self.get(store, approval.id)
            if latest is not None and latest.status != "pending":
                return latest
            await asyncio.sleep(DECISION_POLL)
        return approval

    async def run_once(
        self, store: Store, approval: Approval, call: Callable[[dict[str, Any]], Awaitable[str]]
    ) -> Approval:
        """Run an approved call at most once (with its recorded arguments, their digest
        checked) and record what the model is told; a call claimed before is not repeated."""
        if approval.result is not None:
            return approval
        if approval.status != "approved":
            result = _not_run(approval)
        elif digest(approval.arguments) != approval.digest:
            result = "Error: the arguments changed after approval; the call was not run."
        elif await store.reply_claim(f"approval:{approval.id}", "run"):
            result = await call(approval.arguments_dict)
        else:
            latest = await self.get(store, approval.id)
            return (
                latest
                if latest is not None and latest.result is not None
                else (approval.model_copy(update={"result": UNKNOWN_OUTCOME}))
            )
        done = approval.model_copy(update={"result": result})
        await self.save(store, done)
        return done

    @staticmethod
    async def claim_resume(store: Store, pause_id: str) -> bool:
        """True once per paused turn: the caller continues it."""
        return await store.reply_claim(f"approval-pause:{pause_id}", "resume")


def _decided_before(approval: Approval) -> ApprovalError:
    return ApprovalError(
        f"approval {approval.id} was decided before ({approval.status})", reason="decided"
    )


def _not_run(approval: Approval) -> str:
    if approval.status == "denied":
        return f"Error: {approval.decided_by} denied this call; it was not run."
    return "Error: nobody approved this call before the approval expired; it was not run."


__all__ = ["DEFAULT_TTL", "UNKNOWN_OUTCOME", "Approvals"]
