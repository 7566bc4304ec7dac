"""When scheduled syncs fire: interval or cron triggers in a time zone, jitter, blackouts.

Cron follows classic cron across daylight-saving changes: a job at a fixed hour runs
once on the day the clocks go back (APScheduler 3 would run it in both copies of the
repeated hour) and once, an hour late, on the day they go forward; a job whose hour is
``*`` runs every real hour. Day-of-week numbers follow crontab (0 and 7 are Sunday),
not APScheduler 3's (0 is Monday): :mod:`config.cron` reads the fields, for the scheduler
and for the config check alike.
"""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from config.cron import trigger_fields
from config.errors import ConfigError, ConfigProblem
from config.settings import Blackout, Schedule


class LocalCronTrigger(CronTrigger):  # type: ignore[misc]
    """A CronTrigger that runs a fixed-hour job once when an hour repeats (clocks go back)."""

    def __init__(self, *args: object, spread: float = 0.0, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Jitter is applied here, after the repeat check, so it cannot disguise a repeat.
        self.spread = spread
        self._any_hour = next(str(f) for f in self.fields if f.name == "hour") == "*"

    def _repeated(self, when: dt.datetime) -> bool:
        if self._any_hour:
            return False
        naive = when.replace(tzinfo=None)
        first = naive.replace(tzinfo=self.timezone, fold=0).utcoffset()
        second = naive.replace(tzinfo=self.timezone, fold=1).utcoffset()
        return first != second and when.utcoffset() == second

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None:
        nxt: dt.datetime | None = super().get_next_fire_time(previous_fire_time, now)
        while nxt is not None and self._repeated(nxt):
            nxt = super().get_next_fire_time(nxt, nxt)
        if nxt is not None and self.spread:
            # In UTC: wall-clock arithmetic would drop ``fold`` and move a run in the
            # repeated hour back by an hour.
            delay = dt.timedelta(seconds=random.uniform(0, self.spread))
            nxt = (nxt.astimezone(dt.UTC) + delay).astimezone(self.timezone)
        return nxt


def _problem(where: str, message: str) -> ConfigError:
    return ConfigError([ConfigProblem("", where, None, message)])


def make_trigger(schedule: Schedule, default_tz: str, where: str = "schedule") -> BaseTrigger:
    """The APScheduler trigger for a connector's schedule, in its (or the district's) zone."""
    tz = ZoneInfo(schedule.timezone or default_tz)
    jitter = schedule.jitter.total_seconds()
    if schedule.interval is not None:
        if schedule.interval <= dt.timedelta(0):
            raise _problem(f"{where}.interval", "must be longer than zero")
        return IntervalTrigger(seconds=schedule.interval.total_seconds(), timezone=tz, jitter=jitter or None)
    assert schedule.cron is not None
    try:
        return LocalCronTrigger(**trigger_fields(schedule.cron), timezone=tz, spread=jitter)
    except ValueError as exc:
        raise _problem(f"{where}.cron", f"{schedule.cron!r} is not a valid cron expression: {exc}") from None


def _in_dates(b: Blackout, day: dt.date) -> bool:
    if b.from_date is None or b.to_date is None:
        return True
    md = f"{day.month:02d}-{day.day:02d}"
    if b.from_date <= b.to_date:
        return b.from_date <= md <= b.to_date
    return md >= b.from_date or md <= b.to_date  # wraps over the new year


def _in_times(b: Blackout, t: dt.time) -> bool:
    if b.from_time is None or b.to_time is None:
        return True
    if b.from_time <= b.to_time:
        return b.from_time <= t < b.to_time
    return t >= b.from_time or t < b.to_time  # wraps over midnight


def in_blackout(blackouts: list[Blackout], local: dt.datetime) -> Blackout | None:
    """The blackout window ``local`` (a wall-clock time in the schedule's zone) falls in, if any.

    Dates are inclusive yearly ``MM-DD`` ranges; times are daily ``[from, to)`` windows;
    a window with both applies on those dates during those hours.
    """
    naive_time = local.time().replace(tzinfo=None)
    for b in blackouts:
        if _in_dates(b, local.date()) and _in_times(b, naive_time):
            return b
    return None
