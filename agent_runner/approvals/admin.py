"""The admin API's approval routes: see and decide an approval over HTTP.

- ``GET /api/approvals/{id}``: the approval as JSON (404 when unknown).
- ``POST /api/approvals/{id}`` with ``{"decision": "approve" | "deny", "approver": "name"}``:
  decides it (as ``admin:<name>``), then hands the conversation a message saying so, with the
  deterministic id ``approval-<id>`` (journaled once, however often it is posted), so the
  paused turn resumes wherever that conversation is handled. 200 with the approval; 404
  unknown; 409 decided otherwise before; 400 for a bad body. Posting the same decision again
  is harmless (the message is not handled twice), also at the same moment as the first (to
  this process or another: the later one is answered with the first's decision, a repeat).

The routes do no authentication: mount them on the operator endpoint, behind its token.
"""

from __future__ import annotations

import json

from aiohttp import web

from agent_runner.approvals.book import Approvals
from agent_runner.approvals.records import Approval
from agent_runner.connector import Sink
from agent_runner.errors import ApprovalError
from agent_runner.message import Author, Message, conversation_message
from agent_runner.store import Store

MAX_BODY = 4096


def approval_routes(approvals: Approvals, store: Store, sink: Sink) -> list[web.RouteDef]:
    """The routes, for ``app.add_routes(...)``; ``sink`` is the runner's (``runtime.sink``).

    Example:
        >>> app = web.Application()  # doctest: +SKIP
        >>> app.add_routes(approval_routes(approvals, runtime.store, runtime.sink))
    """

    async def show(request: web.Request) -> web.Response:
        approval = await approvals.get(store, request.match_info["id"])
        if approval is None:
            return _error(404, "no such approval")
        return web.json_response(approval.model_dump(mode="json"))

    async def decide(request: web.Request) -> web.Response:
        approval_id = request.match_info["id"]
        if (request.content_length or 0) > MAX_BODY:
            return _error(413, "body too large")
        try:
            body = json.loads(await request.text() or "{}")
        except ValueError:
            return _error(400, "the body is not JSON")
        verdict = body.get("decision") if isinstance(body, dict) else None
        approver = str(body.get("approver") or "admin")[:128] if isinstance(body, dict) else ""
        if verdict not in ("approve", "deny"):
            return _error(400, 'decision must be "approve" or "deny"')
        by = f"admin:{approver}"
        try:
            approval = await approvals.decide(store, approval_id, verdict, by=by, admin=True)
        except ApprovalError as exc:
            if exc.reason == "unknown":
                return _error(404, str(exc))
            current = await approvals.get(store, approval_id)
            same = {"approve": "approved", "deny": "denied"}[verdict]
            if current is None or current.decided_by != by or current.status != same:
                return _error(409, str(exc))
            approval = current  # the same decision posted again: hand the message over again
        message = await _decision_message(
            approvals, store, approval, f"{verdict} {approval.id}", by
        )
        if message is not None:
            await sink(message)
        return web.json_response(approval.model_dump(mode="json"))

    return [web.get("/api/approvals/{id}", show), web.post("/api/approvals/{id}", decide)]


async def _decision_message(
    approvals: Approvals, store: Store, approval: Approval, text: str, by: str
) -> Message | None:
    """The message that resumes the paused turn: the original message's conversation and
    platform details, shaped like a button press on it."""
    pause = await approvals.get_pause(store, approval.pause_id)
    data = pause.state.get("message") if pause is not None else None
    if not isinstance(data, dict):
        return None
    return conversation_message(
        Message.model_validate(data),
        id=f"approval-{approval.id}",
        text=text,
        author=Author(id=by, name=by),
    )


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


__all__ = ["MAX_BODY", "approval_routes"]
