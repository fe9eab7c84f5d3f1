"""Follow-ups an agent schedules itself: a message delivered to the same conversation later,
once (at a time, after a delay) or by cron, persisted in the store, listed and cancellable,
fired exactly once across runner processes sharing the store.

::

    from agent_runner.schedules import FollowUpInput, FollowUps, schedule_tools

    followups = FollowUps(missed="once", window=60)
    agent = LLMAgent(client, system_prompt="...", tools=schedule_tools(followups))
    runtime = AgentRuntime([discord, FollowUpInput(followups)], [discord], agent)

``FollowUps`` is the API (``add``, ``scheduled``, ``cancel``) on a store; ``FollowUpInput``
(one per runner process) fires the due slots; :mod:`agent_runner.schedules.slots` has the
pure slot arithmetic and the missed-slot policies.
"""

from agent_runner.schedules.book import INDEX, FollowUp, FollowUps
from agent_runner.schedules.input import AUTHOR, FollowUpInput
from agent_runner.schedules.slots import (
    MAX_CATCH_UP,
    Missed,
    cron_slots,
    crontab_trigger,
    crontab_weekdays,
    next_cron_slot,
    to_fire,
)
from agent_runner.schedules.tools import schedule_tools

__all__ = [
    "AUTHOR",
    "FollowUp",
    "FollowUpInput",
    "FollowUps",
    "INDEX",
    "MAX_CATCH_UP",
    "Missed",
    "cron_slots",
    "crontab_trigger",
    "crontab_weekdays",
    "next_cron_slot",
    "schedule_tools",
    "to_fire",
]
