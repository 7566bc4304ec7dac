"""The "not live" lag: what a reader may show of each kind of record now, in the school's time.

One function for every reader (data routes, export, the web pages and alerts): a record
recorded less than its kind's lag ago is hidden, and so is the school's own today before
the kind's same-day time ("today's marks appear after 10:30"). "Today" and that time are
the school's, in its time zone, which may differ from the district's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cache.memo import remember
from cache.read import queries
from cache.read.reader import Reader, StudentHandle
from config.settings import Visibility, VisibilityRule

# Which visibility rule each record kind follows (kinds not listed are shown at once).
RULE_OF_KIND: dict[str, str] = {
    "attendance": "attendance",
    "grade": "grades",
    "behaviour": "behaviour",
    "assignment": "assignments",
    "timetable": "timetable",
    "notice": "notices",
    "report": "reports",
}
IMMEDIATE = VisibilityRule(lag=dt.timedelta(0))


def rule_for(visibility: Visibility, kind: str) -> VisibilityRule:
    name = RULE_OF_KIND.get(kind)
    if name is None:
        return IMMEDIATE
    rule: VisibilityRule = getattr(visibility, name)
    return rule


@dataclass(frozen=True)
class Window:
    """What may be shown of one kind now: recorded at or before ``visible_before``, and
    not about ``hidden_day`` (the school's today, before the same-day time)."""

    lag: dt.timedelta
    visible_before: dt.datetime
    hidden_day: dt.date | None

    def shows(self, recorded_at: dt.datetime | None, day: dt.date | None) -> bool:
        if recorded_at is not None and recorded_at > self.visible_before:
            return False
        return self.hidden_day is None or day != self.hidden_day


def window(rule: VisibilityRule, now: dt.datetime, school_tz: ZoneInfo) -> Window:
    """The window ``rule`` gives at ``now`` for a school in ``school_tz``."""
    hidden = None
    if rule.same_day_not_before is not None:
        local = now.astimezone(school_tz)
        if local.time() < rule.same_day_not_before:
            hidden = local.date()
    return Window(rule.lag, now - rule.lag, hidden)


def visible_from(
    rule: VisibilityRule,
    recorded_at: dt.datetime | None,
    day: dt.date | None,
    school_tz: ZoneInfo,
    known: dt.datetime,
) -> dt.datetime:
    """The first instant :func:`window` shows a record (``known``: when Portico first held it,
    for a record with no recorded time): alerts are queued to go out no earlier.

    The earliest candidate is confirmed with :func:`window` itself, so the two can never
    disagree; a record about a day whose same-day time is still ahead waits for it."""
    at = known if recorded_at is None else max(known, recorded_at + rule.lag)
    if rule.same_day_not_before is not None and day is not None:
        opens = dt.datetime.combine(day, rule.same_day_not_before, tzinfo=school_tz).astimezone(dt.UTC)
        if at.astimezone(school_tz).date() == day and at < opens:
            at = opens
    if not window(rule, at, school_tz).shows(recorded_at, day):  # never, by construction
        raise AssertionError("visible_from disagrees with window")
    return at


def school_zone(reader: Reader, student: StudentHandle, district_tz: ZoneInfo) -> ZoneInfo:
    """The student's school's time zone; the district's when the school names none (or a bad one)."""
    zones = queries.school_zones(reader)  # a school record never changes within a snapshot
    key = _zone_key(student, district_tz)
    found = zones.get(key)
    if found is None:
        ref = _school_ref(reader, student)
        school = queries.shared_many(reader, student.source, "school", [ref], student.published_run).get(ref)
        found = remember(zones, key, zone_of(school, district_tz), 10_000)
    return found


async def aschool_zone(reader: Reader, student: StudentHandle, district_tz: ZoneInfo) -> ZoneInfo:
    """:func:`school_zone`, the school's first read in this snapshot awaited (``queries.ashared_many``)."""
    zones = queries.school_zones(reader)
    key = _zone_key(student, district_tz)
    found = zones.get(key)
    if found is None:
        ref = _school_ref(reader, student)
        school = (
            await queries.ashared_many(reader, student.source, "school", [ref], student.published_run)
        ).get(ref)
        found = remember(zones, key, zone_of(school, district_tz), 10_000)
    return found


def _zone_key(student: StudentHandle, district_tz: ZoneInfo) -> tuple[str, str, int, ZoneInfo]:
    return (student.source, str(student.data["school_id"]), student.published_run, district_tz)


def _school_ref(reader: Reader, student: StudentHandle) -> str:
    return reader.keyring.index.shared_ref(student.source, "school", str(student.data["school_id"]))


def zone_of(school: dict[str, Any] | None, district_tz: ZoneInfo) -> ZoneInfo:
    """A school's time zone; the district's when there is no school or it names none (or a bad one)."""
    try:
        return ZoneInfo(school["timezone"]) if school and school.get("timezone") else district_tz
    except (ZoneInfoNotFoundError, ValueError):
        return district_tz


class StudentVisibility:
    """The windows of every kind for one student at one instant (one school, one zone)."""

    def __init__(
        self,
        visibility: Visibility,
        now: dt.datetime,
        reader: Reader,
        student: StudentHandle,
        district_tz: ZoneInfo,
        tz: ZoneInfo | None = None,
    ) -> None:
        # tz: the school's zone, if already known (aschool_zone).
        self.visibility, self.now = visibility, now
        self.tz = tz or school_zone(reader, student, district_tz)
        self._windows: dict[str, Window] = {}

    def of(self, kind: str) -> Window:
        found = self._windows.get(kind)
        if found is None:
            found = self._windows[kind] = window(rule_for(self.visibility, kind), self.now, self.tz)
        return found
