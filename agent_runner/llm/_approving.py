"""LLMAgent's side of approvals: a step whose tool calls need approval pauses the turn, and a
decision message resumes it, in whichever process handles the conversation then.

How a paused turn survives a restart: nothing waits in memory. When the model calls a tool that
needs approval, the agent runs the step's other calls, stores a
:class:`~agent_runner.approvals.Pause` (the prompt so far, those results, the approvals it
waits for) and ends the turn with the request as its reply (buttons on chats that have them,
the ``approve <id>`` / ``deny <id>`` command in the text). The decision comes back as a message
of the same conversation: a button press, the typed command, or the one the admin API injects
after recording its decision. Handling it, the agent decides the approval (once, across
processes), and when every approval of the pause is decided it claims the resume (once), runs
the approved calls (each at most once, with the arguments approved), tells the model about the
refused or expired ones, and continues the model loop from the stored prompt.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from agent_runner.agent import AgentContext
from agent_runner.approvals import Approval, Approvals, Pause, parse_command
from agent_runner.errors import ApprovalError
from agent_runner.llm._client import ChatMessage, ToolCall
from agent_runner.message import Button, Message, Reply

RunApproved = Callable[[str, str, dict[str, Any]], Awaitable[str]]
"""``(call_id, tool name, arguments) -> result``: runs an approved call (no approval asked)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Gated:
    """A call that needs approval before it runs (what ``_call_tool`` returns for it)."""

    arguments: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Resume:
    """A decision completed a pause: continue the model loop from ``prompt``."""

    prompt: list[ChatMessage]


async def pause_turn(
    approvals: Approvals,
    prompt: Sequence[ChatMessage],
    calls: Sequence[ToolCall],
    results: Mapping[str, str | Gated],
    context: AgentContext,
) -> Reply:
    """Store the paused step and return the reply that asks for the approvals."""
    store, message = context.store, context.message
    pause_id = approvals.new_pause_id()
    asked: list[Approval] = []
    for call in calls:
        result = results[call.id]
        if isinstance(result, Gated):
            asked.append(
                await approvals.request(
                    store,
                    pause_id=pause_id,
                    message=message,
                    tool=call.name,
                    call_id=call.id,
                    arguments=result.arguments,
                )
            )
    done = {call_id: text for call_id, text in results.items() if isinstance(text, str)}
    state = {"prompt": [dataclasses.asdict(m) for m in prompt], "results": done}
    pause = Pause(
        id=pause_id,
        conversation_key=message.conversation_key,
        message_key=message.key,
        approval_ids=tuple(a.id for a in asked),
        state=state,
    )
    await approvals.pause(store, pause, message)
    if approvals.followups is not None:  # resolve the request at its expiry, if undecided
        for approval in asked:
            check = f"expire {approval.id}"
            await approvals.followups.add(
                store, message, check, at=approval.expires_at, missed="once"
            )
    context.logger.info("paused for approval %s", ", ".join(a.id for a in asked))
    return approval_request(asked, ttl=approvals.ttl)


def approval_request(asked: Sequence[Approval], *, ttl: float) -> Reply:
    """The request shown in the chat: one line and two buttons per approval."""
    lines = ["Approval needed before I go on:"]
    buttons: list[Button] = []
    for approval in asked:
        lines.append(
            f'- {approval.tool} {approval.arguments}: reply "approve {approval.id}" or '
            f'"deny {approval.id}"'
        )
        label = approval.tool[:60]
        buttons.append(Button(label=f"Approve {label}", value=f"approve {approval.id}"))
        buttons.append(Button(label=f"Deny {label}", value=f"deny {approval.id}"))
    minutes = max(1, round(ttl / 60))
    lines.append(f"(expires in {minutes} min)")
    return Reply(text="\n".join(lines), buttons=tuple(buttons))


async def answer_decision(
    approvals: Approvals, message: Message, context: AgentContext, run: RunApproved
) -> str | Resume | None:
    """Handle an ``approve <id>`` / ``deny <id>`` message: None when it is not one, a note
    for the chat, or :class:`Resume` when the decision completed its pause."""
    command = parse_command(message.text)
    if command is None:
        return None
    verdict, approval_id = command
    quiet = verdict == "expire"  # the scheduled check: no note in the chat unless it resumes
    store = context.store
    approval = await approvals.get(store, approval_id)
    if approval is None or approval.conversation_key != message.conversation_key:
        return f"There is no approval {approval_id} in this conversation."
    if approval.status == "pending":
        try:
            approval = await approvals.decide(store, approval_id, verdict, by=message.author.id)
        except ApprovalError as exc:
            if exc.reason != "decided":
                return "" if quiet else str(exc)
            approval = await approvals.get(store, approval_id) or approval
    pause = await approvals.get_pause(store, approval.pause_id)
    if pause is None:
        return "" if quiet else f"Approval {approval_id} is {approval.status}."
    found = [await approvals.get(store, i) for i in pause.approval_ids]
    decided = [a for a in found if a is not None]
    waiting = [a.id for a in decided if a.status == "pending"]
    if waiting:
        note = f"Approval {approval_id} is {approval.status}; waiting for {', '.join(waiting)}."
        return "" if quiet else note
    if not await approvals.claim_resume(store, pause.id):
        note = f"Approval {approval_id} was {approval.status} before; nothing more to do."
        return "" if quiet else note
    context.logger.info("resuming the turn paused for %s", ", ".join(pause.approval_ids))
    results: dict[str, str] = dict(pause.state.get("results", {}))
    for each in decided:
        done = await approvals.run_once(
            store, each, functools.partial(run, each.call_id, each.tool)
        )
        results[each.call_id] = done.result or ""
    prompt = [_chat_message(item) for item in pause.state.get("prompt", [])]
    last = prompt[-1] if prompt else None
    for call in last.tool_calls if last is not None else ():
        if call.id in results:
            prompt.append(ChatMessage.tool(call.id, results[call.id], name=call.name))
    return Resume(prompt)


def _chat_message(data: Mapping[str, Any]) -> ChatMessage:
    calls = tuple(ToolCall(**call) for call in data.get("tool_calls", ()))
    return ChatMessage(**{**data, "tool_calls": calls})


__all__ = ["Gated", "Resume", "RunApproved", "answer_decision", "approval_request", "pause_turn"]
