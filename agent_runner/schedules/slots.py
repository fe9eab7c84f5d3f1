"""When follow-ups fire: crontab triggers and the slots due at a given time (pure functions of
the time given, tested without sleeping).

A *slot* is one scheduled firing time (Unix seconds). A slot later than ``window`` seconds when
it is looked at (the process was down, or paused) is *missed*, and the follow-up's policy
decides: ``"skip"`` drops missed slots, ``"once"`` fires the latest missed one (the others are
dropped), ``"all"`` fires every one (at most :data:`MAX_CATCH_UP`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal, TypeAlias
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

Missed: TypeAlias = Literal["skip", "once", "all"]
"""What to do with slots missed while no process was looking."""

MAX_CATCH_UP = 100
"""Most slots one look fires or drops (a cron job down for a year does not fire 500,000 times)."""

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def crontab_weekdays(field: str) -> str:
    """Translate a crontab weekday field (0/7 = Sunday) to APScheduler 3 names.

    APScheduler 3 numbers weekdays from Monday = 0; names mean the same in both.

    Example:
        >>> crontab_weekdays("1-5"), crontab_weekdays("0,6"), crontab_weekdays("*/2")
        ('mon,tue,wed,thu,fri', 'sun,sat', 'sun,tue,thu,sat')
    """
    if field in ("*", "?") or not any(ch.isdigit() for ch in field):
        return field
    days: set[int] = set()
    names: list[str] = []
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            low, high = 0, 6
        elif "-" in base:
            first, last = base.split("-", 1)
            if not (first.isdigit() and last.isdigit()):
                names.append(part)
                continue
            low, high = int(first), int(last)
        elif base.isdigit():
            low = high = int(base)
            if step_text:
                high = 6
        else:
            names.append(part)
            continue
        if not (0 <= low <= 7 and 0 <= high <= 7 and low <= high and step >= 1):
            raise ValueError(f"invalid weekday field {field!r}")
        days.update(d % 7 for d in range(low, high + 1, step))
    return ",".join([_DAY_NAMES[d] for d in sorted(days)] + names)


def crontab_trigger(expression: str, timezone: str = "UTC") -> CronTrigger:
    """APScheduler's trigger for a 5-field crontab ``expression`` read in ``timezone``.

    Raises ValueError for a bad expression (ZoneInfoNotFoundError for an unknown zone).
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"cron expression {expression!r} must have 5 fields")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=crontab_weekdays(weekday),
        timezone=ZoneInfo(timezone),
    )


def cron_slots(trigger: CronTrigger, after: float, until: float) -> list[float]:
    """The trigger's slots in ``(after, until]``, at most :data:`MAX_CATCH_UP` + 1.

    >>> trigger = crontab_trigger("*/10 * * * *")
    >>> cron_slots(trigger, 0.0, 1800.0)
    [600.0, 1200.0, 1800.0]
    """
    slots: list[float] = []
    previous: datetime | None = None
    moment = datetime.fromtimestamp(after, UTC) + timedelta(microseconds=1)
    while len(slots) <= MAX_CATCH_UP:
        fire = trigger.get_next_fire_time(previous, moment)
        if fire is None or fire.timestamp() > until:
            break
        slots.append(fire.timestamp())
        previous, moment = fire, fire.astimezone(UTC) + timedelta(microseconds=1)
    return slots


def next_cron_slot(trigger: CronTrigger, after: float) -> float | None:
    """The trigger's first slot strictly after ``after`` (None: it never fires again)."""
    moment = datetime.fromtimestamp(after, UTC) + timedelta(microseconds=1)
    fire = trigger.get_next_fire_time(None, moment)
    return None if fire is None else fire.timestamp()


def to_fire(slots: list[float], *, now: float, window: float, missed: Missed) -> list[float]:
    """Which of the due ``slots`` fire at ``now`` under the ``missed`` policy.

    >>> to_fire([10.0, 20.0, 95.0], now=100.0, window=30.0, missed="skip")
    [95.0]
    >>> to_fire([10.0, 20.0, 95.0], now=100.0, window=30.0, missed="once")
    [20.0, 95.0]
    >>> to_fire([10.0, 20.0], now=100.0, window=30.0, missed="all")
    [10.0, 20.0]
    """
    late = [slot for slot in slots if now - slot > window]
    on_time = [slot for slot in slots if now - slot <= window]
    if missed == "skip" or not late:
        return on_time
    if missed == "once":
        return [late[-1], *on_time]
    return [*late, *on_time][-MAX_CATCH_UP:]


__all__ = [
    "MAX_CATCH_UP",
    "Missed",
    "cron_slots",
    "crontab_trigger",
    "crontab_weekdays",
    "next_cron_slot",
    "to_fire",
]
