"""The approvals kept in the store: requested, decided once, run at most once, resumed once.

Records live in the store's key-value state (``approval:<id>``, ``approval-pause:<id>``), so
every process on the store sees them, also after a restart. What must happen once across
processes is settled by one atomic step in the store, and each key has one writer, so no
write can undo another's:

- ``approval-decision:<id>``: the decision, taken as a lease (``Store.lease_acquire``) whose
  holder *is* the decision (status, decider, time): the first decider wins; a later one gets
  :class:`~agent_runner.errors.ApprovalError` (``reason="decided"``) carrying what was
  decided, read from the lease at once (the admin API answers it 200 for the same decision,
  409 for another). The winner then copies it to the state key of that name (the lease lasts
  until :data:`DECISION_KEPT` after the approval's expiry; the copy lasts). The record
  ``approval:<id>`` is written when requested and when the call's outcome is known;
  :meth:`Approvals.get` shows it with its decision. A decider that dies between the lease
  and the copy loses nothing: the lease holds the decision.
- ``approval:<id>`` / ``run`` (``reply_claim``): the approved call runs at most once. A process
  that dies while the call runs leaves it claimed: handled again, the model is told the
  outcome is unknown, the call is not repeated.
- ``approval-pause:<id>`` / ``resume``: the paused turn continues once.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from agent_runner.approvals.records import (
    Approval,
    Pause,
    Status,
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

DECISION_KEPT = 86400.0
"""Seconds past an approval's expiry its decision lease lasts (its copy in the state lasts)."""

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
        """The approval with its decision (also before its record shows it)."""
        raw = await store.state_get(f"approval:{approval_id}")
        if raw is None:
            return None
        approval = Approval.model_validate_json(raw)
        if approval.status != "pending":
            return approval
        key = _decision_key(approval_id)
        decision = await store.state_get(key)
        if decision is None:
            lease = await store.lease_holder(key)
            decision = lease.holder if lease is not None else None
        if decision is None:
            return approval
        return approval.model_copy(update=_Decision.model_validate_json(decision).model_dump())

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
        status: Status = (
            "expired"
            if now >= approval.expires_at
            else "approved"
            if verdict == "approve"
            else "denied"
        )
        decision = _Decision(status=status, decided_by=by, decided_at=now)
        key, holder = _decision_key(approval_id), decision.model_dump_json()
        ttl = max(approval.expires_at - now, 0.0) + DECISION_KEPT
        if await store.lease_acquire(key, holder, ttl) is None:  # another decided first
            raise _decided_before(await self.get(store, approval_id) or approval)
        await store.state_set(key, holder)
        return approval.model_copy(update=decision.model_dump())

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


class _Decision(BaseModel):
    """A decision, as its lease's holder and its copy in the state name it."""

    status: Status
    decided_by: str
    decided_at: float


def _decision_key(approval_id: str) -> str:
    return f"approval-decision:{approval_id}"


def _decided_before(approval: Approval) -> ApprovalError:
    return ApprovalError(
        f"approval {approval.id} was decided before ({approval.status})", reason="decided"
    )


def _not_run(approval: Approval) -> str:
    if approval.status == "denied":
        return f"Error: {approval.decided_by} denied this call; it was not run."
    return "Error: nobody approved this call before the approval expired; it was not run."


__all__ = ["DECISION_KEPT", "DEFAULT_TTL", "UNKNOWN_OUTCOME", "Approvals"]
