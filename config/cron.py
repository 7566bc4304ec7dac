"""Crontab expressions, read exactly as the scheduler reads them.

A schedule's ``cron`` is five crontab fields. The scheduler (``gateway/sync/triggers.py``)
hands them to APScheduler 3's ``CronTrigger`` through :func:`trigger_fields`; the config
schema checks each expression with the same function and the same ``CronTrigger``, so an
expression the scheduler would refuse is refused when the config is read, with the field
named. Day-of-week numbers follow crontab (0 and 7 are Sunday), not APScheduler 3's (0 is
Monday).
"""

from __future__ import annotations

from apscheduler.triggers.cron import CronTrigger

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

# Crontab order, with the words an operator reads and the values each field takes.
FIELDS = (
    ("minute", "minute", "minutes run 0-59"),
    ("hour", "hour", "hours run 0-23"),
    ("day", "day of month", "days of the month run 1-31"),
    ("month", "month", "months run 1-12 (or jan-dec)"),
    ("day_of_week", "day of week", "days of the week run 0-7 (0 and 7 are Sunday) or sun-sat"),
)


def _day_number(token: str) -> int:
    token = token.strip().lower()
    if token[:3] in _DAYS and not token.isdigit():
        return _DAYS.index(token[:3])
    n = int(token)
    if not 0 <= n <= 7:
        raise ValueError(f"day of week {token!r} is not 0-7 or a day name")
    return n % 7


def crontab_days(field: str) -> str:
    """A crontab day-of-week field as APScheduler 3 day names (crontab: 0 and 7 are Sunday)."""
    days: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            lo, hi = 0, 6
        elif "-" in base:
            a, b = base.split("-", 1)
            lo, hi = _day_number(a), _day_number(b)
            hi = 7 if hi == 0 and b.strip() == "7" else hi
            if hi < lo:
                raise ValueError(f"day-of-week range {base!r} runs backwards")
        else:
            lo = hi = _day_number(base)
        days.update(d % 7 for d in range(lo, hi + 1, step))
    if len(days) == 7:
        return "*"
    # Monday first, as APScheduler numbers them.
    return ",".join(_DAYS[d] for d in (1, 2, 3, 4, 5, 6, 0) if d in days)


def trigger_fields(expression: str) -> dict[str, str]:
    """The ``CronTrigger`` keyword arguments for a five-field crontab expression.

    Raises ValueError when there are not five fields or the day of week cannot be read.
    """
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(f"cron takes five fields (minute hour day month day-of-week), not {len(parts)}")
    minute, hour, day, month, dow = parts
    return {"minute": minute, "hour": hour, "day": day, "month": month, "day_of_week": crontab_days(dow)}


def _reason(exc: ValueError) -> str:
    """APScheduler's complaint about one field, as the rest of a sentence ("is out of range")."""
    text = str(exc)
    # APScheduler: "Error validating expression '61': the last value (61) is higher than ..."
    if text.startswith("Error validating expression") and "': " in text:
        text = text.split("': ", 1)[1]
    if "runs backwards" in text or "must not be higher" in text:
        return "a range that runs backwards"
    if "higher than the maximum" in text or "lower than the minimum" in text or "is not 0-7" in text:
        return "out of range"
    if text.startswith(("Unrecognized expression", "invalid literal")):
        return "not a number, a range (a-b), a step (*/n) or a list (a,b)"
    return f"not valid ({text})"


def cron_problem(expression: str) -> str | None:
    """What is wrong with ``expression`` in plain words, naming the field; None when the
    scheduler accepts it."""
    parts = expression.split()
    if len(parts) != 5:
        return f"cron takes five fields (minute hour day month day-of-week); {expression!r} has {len(parts)}"
    for (name, label, expected), value in zip(FIELDS, parts, strict=True):
        try:
            arg = crontab_days(value) if name == "day_of_week" else value
            CronTrigger(**{name: arg}, timezone="UTC")
        except ValueError as exc:
            return f"the {label} field {value!r} is {_reason(exc)}; {expected}"
    try:
        CronTrigger(**trigger_fields(expression), timezone="UTC")
    except ValueError as exc:
        return f"{expression!r} is not a valid cron expression: {_reason(exc)}"
    return None
