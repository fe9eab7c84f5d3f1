"""The ``schedule`` tools an :class:`~agent_runner.llm.LLMAgent` uses to plan its own
follow-ups in the current conversation ("check back in an hour")."""

from __future__ import annotations

from datetime import datetime

from agent_runner.agent import AgentContext
from agent_runner.errors import ToolError
from agent_runner.llm import Tool
from agent_runner.schedules.book import FollowUps


def schedule_tools(followups: FollowUps) -> list[Tool]:
    """``schedule``, ``list_schedules`` and ``cancel_schedule`` for ``LLMAgent(tools=...)``.

    Example:
        >>> agent = LLMAgent(client, system_prompt="...",  # doctest: +SKIP
        ...                  tools=schedule_tools(FollowUps()))
    """

    async def schedule(
        text: str,
        context: AgentContext,
        delay_seconds: float | None = None,
        at: str | None = None,
        cron: str | None = None,
        timezone: str = "UTC",
    ) -> str:
        """Send yourself a message in this conversation later: once after a delay or at a
        time, or repeatedly by cron.

        Args:
            text: the message you will receive then (say what to do).
            delay_seconds: fire once after this many seconds.
            at: fire once at this ISO 8601 time with a UTC offset ("2026-01-05T09:30:00+00:00").
            cron: fire repeatedly on this 5-field crontab schedule ("0 9 * * 1-5").
            timezone: the IANA time zone the cron expression is read in.
        """
        try:
            when = None if at is None else datetime.fromisoformat(at).timestamp()
            if at is not None and datetime.fromisoformat(at).tzinfo is None:
                raise ValueError("at needs a UTC offset")
            made = await followups.add(
                context.store,
                context.message,
                text,
                at=when,
                delay=delay_seconds,
                cron=cron,
                timezone=timezone,
            )
        except (ValueError, KeyError) as exc:
            raise ToolError(f"not scheduled: {exc}") from None
        return f"scheduled {made.describe()}"

    async def list_schedules(context: AgentContext) -> str:
        """The follow-ups scheduled in this conversation."""
        found = await followups.scheduled(context.store, context.message.conversation_key)
        return "\n".join(f.describe() for f in found) or "nothing scheduled"

    async def cancel_schedule(schedule_id: str, context: AgentContext) -> str:
        """Cancel a follow-up of this conversation.

        Args:
            schedule_id: its id, as ``schedule`` or ``list_schedules`` gave it.
        """
        if await followups.cancel(context.store, schedule_id, context.message.conversation_key):
            return f"cancelled {schedule_id}"
        raise ToolError(f"there is no follow-up {schedule_id} in this conversation")

    return [Tool(schedule), Tool(list_schedules), Tool(cancel_schedule)]


__all__ = ["schedule_tools"]
