"""What an approval is: a pending tool call bound to its exact arguments, and the decision on it.

An :class:`Approval` names one call of one tool with its arguments in canonical JSON (keys
sorted, no spaces) and their SHA-256 :attr:`~Approval.digest`: approving it approves that call
and no other; a call with any argument changed is a different call and needs its own approval.
It has an expiry and the people allowed to decide it. A :class:`Pause` is the turn that waits:
the model's conversation so far (opaque to this package), the results of the calls that ran,
and the approvals it waits for.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["approve", "deny", "expire"]
"""What a person answers (``expire``: a scheduled check that the approval timed out)."""

Status = Literal["pending", "approved", "denied", "expired"]

_COMMAND = re.compile(r"^\s*/?(approve|deny|expire)\s+([0-9a-f]{10})\s*$", re.IGNORECASE)


def canonical_json(arguments: Mapping[str, Any]) -> str:
    """``arguments`` as canonical JSON: sorted keys, no spaces, non-ASCII kept."""
    return json.dumps(
        arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def digest(canonical: str) -> str:
    """The SHA-256 of canonical arguments, hex."""
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_command(text: str) -> tuple[Verdict, str] | None:
    """``("approve", id)`` for ``"approve <id>"`` (or ``deny``, ``/approve``), else None.

    >>> parse_command("approve 0a1b2c3d4e")
    ('approve', '0a1b2c3d4e')
    >>> parse_command("approve everything") is None
    True
    """
    match = _COMMAND.match(text)
    if match is None:
        return None
    verdict: Verdict = match.group(1).lower()  # type: ignore[assignment]
    return verdict, match.group(2).lower()


class Approval(BaseModel):
    """One tool call waiting for (or given) a person's decision."""

    model_config = ConfigDict(frozen=True)

    id: str
    pause_id: str
    conversation_key: str
    source: str
    """The input the conversation came from (where the request was shown)."""
    tool: str
    call_id: str
    arguments: str
    """Canonical JSON (:func:`canonical_json`)."""
    digest: str
    """SHA-256 of ``arguments``; checked again before the call runs."""
    requested_by: str
    """Author id of the message whose turn asked for the call."""
    approvers: tuple[str, ...] = ()
    """Author ids allowed to decide in the chat (empty: the requester). The admin API may
    always decide."""
    created_at: float
    expires_at: float
    status: Status = "pending"
    decided_by: str | None = None
    decided_at: float | None = None
    result: str | None = None
    """What the model was told about the call (its result, or why it did not run)."""

    def may_decide(self, author_id: str) -> bool:
        """Whether ``author_id`` (a chat author) may decide this approval."""
        return author_id in (self.approvers or (self.requested_by,))

    @property
    def arguments_dict(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.arguments)
        return value


class Pause(BaseModel):
    """A turn waiting for approvals: resumed once, when every approval is decided."""

    model_config = ConfigDict(frozen=True)

    id: str
    conversation_key: str
    message_key: str
    """The message whose turn paused."""
    approval_ids: tuple[str, ...]
    state: dict[str, Any] = Field(default_factory=dict)
    """The agent's own resume state (for LLMAgent: the prompt and the results so far)."""


__all__ = [
    "Approval",
    "Pause",
    "Status",
    "Verdict",
    "canonical_json",
    "digest",
    "parse_command",
]
