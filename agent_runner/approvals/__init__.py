"""Approvals of risky tool calls, kept in the store and answered from the chat or the admin API.

::

    from agent_runner.approvals import Approvals
    from agent_runner.llm import LLMAgent, tool

    @tool(requires_approval=lambda args: args["amount"] > 100)
    async def transfer(to: str, amount: int) -> str: ...

    agent = LLMAgent(client, system_prompt="...", tools=[transfer],
                     approvals=Approvals(ttl=600, approvers=["U123"]))

A call that needs approval pauses the turn; the request is shown in the chat (buttons on
Discord, Telegram and Slack; ``approve <id>`` / ``deny <id>`` anywhere) and on the admin API
(``POST /api/approvals/<id>``, :func:`approval_routes`). An approval is bound to the exact
arguments (canonical JSON and its SHA-256), expires, and names who may decide it; the turn
resumes when every approval it waits for is decided, in whichever process handles the
conversation then (see :mod:`agent_runner.llm._approving` for how). Records live in the
store: see :mod:`agent_runner.approvals.book` for what happens once across processes.
"""

from agent_runner.approvals.admin import approval_routes
from agent_runner.approvals.book import DEFAULT_TTL, UNKNOWN_OUTCOME, Approvals
from agent_runner.approvals.records import (
    Approval,
    Pause,
    Status,
    Verdict,
    canonical_json,
    digest,
    parse_command,
)
from agent_runner.errors import ApprovalError

__all__ = [
    "Approval",
    "ApprovalError",
    "Approvals",
    "DEFAULT_TTL",
    "Pause",
    "Status",
    "UNKNOWN_OUTCOME",
    "Verdict",
    "approval_routes",
    "canonical_json",
    "digest",
    "parse_command",
]
