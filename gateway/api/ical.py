"""One student's calendar (RFC 5545): the timetable as recurring lessons, due dates and dated notices.

Everything comes through the same reads the data routes use, from a
:class:`~cache.read.reader.StudentHandle` that only the relationship check hands out:
the lessons are exactly the API's timetable (``cache.read.queries.timetable``) over the
feed's window, the due dates the assignments route's inside the assignments' "not live"
window, the notices the notices route's for this student's audiences.

- **Lessons** that repeat on the same weekday, time, period and class are one event with
  an ``RRULE`` (weekly, or every second week for an A/B pattern) from the first lesson to
  the last, and an ``EXDATE`` for every week the rule would give and the timetable has no
  lesson (an entry's or an enrolment's dates, a class split by term).
- Times carry the school's ``TZID`` with its ``VTIMEZONE``, so a lesson stays at 09:00
  across a change of daylight-saving time.
- **UIDs** are made of opaque record ids (blind indexes) and the district's domain, never
  of names or dates: the same lesson keeps its UID from one fetch to the next.
- No personal data beyond what the records say of the school day: no student's or
  teacher's name, no results.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import icalendar

from cache.read import queries
from cache.read.reader import Reader, StudentHandle
from cache.read.visibility import Window
from config.settings import PorticoConfig

PRODID = "-//Portico//Portico calendar feed//EN"


@dataclass(frozen=True)
class FeedWindow:
    start: dt.date
    end: dt.date


def feed_window(config: PorticoConfig, today: dt.date) -> FeedWindow:
    access = config.access
    return FeedWindow(
        today - dt.timedelta(days=access.calendar_days_back),
        today + dt.timedelta(days=access.calendar_days_ahead),
    )


def domain(config: PorticoConfig) -> str:
    """The right-hand side of every UID: the portal's host, else the district's name as a label."""
    host = urlparse(config.portal.public_url).hostname if config.portal.public_url else None
    if host:
        return host
    label = re.sub(r"[^a-z0-9]+", "-", config.district.name.casefold()).strip("-") or "district"
    return f"{label}.portico.invalid"


def _uid(kind: str, *parts: str, at: str) -> str:
    digest = hashlib.sha256("\x1f".join((kind, *parts)).encode()).hexdigest()[:32]
    return f"{kind}-{digest}@{at}"


def _time(raw: str) -> dt.time:
    return dt.time.fromisoformat(raw)


@dataclass
class Series:
    """Lessons with one weekday, time, period, class and week pattern."""

    key: tuple[str, ...]
    entry: dict[str, Any]
    section_ref: str
    days: list[dt.date]


def lesson_series(lessons: list[queries.Lesson]) -> list[Series]:
    found: dict[tuple[str, ...], Series] = {}
    for x in lessons:
        e = x.entry
        key = (
            x.section_ref,
            str(e["day"]),
            str(e["start_time"]),
            str(e["end_time"]),
            str(e["period"]),
            str(e["week_pattern"]),
        )
        series = found.get(key)
        if series is None:
            series = found[key] = Series(key, e, x.section_ref, [])
        series.days.append(x.day)
    return sorted(found.values(), key=lambda s: (s.days[0], s.key))


def rule_days(first: dt.date, last: dt.date, every_weeks: int) -> list[dt.date]:
    step = dt.timedelta(weeks=every_weeks)
    out, day = [], first
    while day <= last:
        out.append(day)
        day += step
    return out


def build(
    reader: Reader,
    config: PorticoConfig,
    student: StudentHandle,
    *,
    tz: ZoneInfo,
    window: FeedWindow,
    year_start: dt.date | None,
    assignments_window: Window,
    notices_window: Window,
    today: dt.date,
    stamp: dt.datetime,
) -> bytes:
    """The student's calendar as iCalendar bytes."""
    at = domain(config)
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-timezone", tz.key)
    cal.add("refresh-interval", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")

    lessons = queries.timetable(reader, student, window.start, window.end, year_start)
    sections = queries.shared_many(
        reader, student.source, "section", {x.section_ref for x in lessons}, student.published_run
    )
    for series in lesson_series(lessons):
        cal.add_component(_lesson_event(series, sections.get(series.section_ref), student, tz, stamp, at))

    for ref, sec_ref, a, _ in queries.assignments(
        reader, student, window.start, window.end, window=assignments_window, limit=10_000
    ):
        section = queries.shared_many(
            reader, student.source, "section", [sec_ref], student.published_run
        ).get(sec_ref)
        ev = icalendar.Event()
        ev.add("uid", _uid("due", ref, student.ref, at=at))
        ev.add("dtstamp", stamp)
        ev.add("dtstart", dt.date.fromisoformat(a["due_date"]))
        ev.add("summary", f"{a['title']} · {section['course_name']}" if section else a["title"])
        ev.add("categories", ["assignment"])
        ev.add("transp", "TRANSPARENT")
        cal.add_component(ev)

    audience = queries.audiences(reader, [student], today)
    for ref, _, n in queries.notices(
        reader,
        student.source,
        student.published_run,
        audience,
        now=notices_window.visible_before,
        today=today,
        since=window.start,
        limit=1_000,
    ):
        begins = dt.datetime.fromisoformat(n["publish_from"]).astimezone(tz).date()
        ends = (
            dt.datetime.fromisoformat(n["publish_to"]).astimezone(tz).date()
            if n.get("publish_to")
            else begins
        )
        ev = icalendar.Event()
        ev.add("uid", _uid("notice", ref, student.ref, at=at))
        ev.add("dtstamp", stamp)
        ev.add("dtstart", begins)
        ev.add("dtend", max(ends, begins) + dt.timedelta(days=1))  # DTEND of a date is exclusive
        ev.add("summary", n["title"])
        ev.add("description", n["body"])
        ev.add("categories", ["notice"])
        ev.add("transp", "TRANSPARENT")
        cal.add_component(ev)

    cal.add_missing_timezones(
        first_date=window.start - dt.timedelta(days=1), last_date=window.end + dt.timedelta(days=1)
    )
    body: bytes = cal.to_ical()
    return body


def _lesson_event(
    series: Series,
    section: dict[str, Any] | None,
    student: StudentHandle,
    tz: ZoneInfo,
    stamp: dt.datetime,
    at: str,
) -> icalendar.Event:
    e = series.entry
    first, last = series.days[0], series.days[-1]
    # A/B weeks repeat every second week, unless a new school year moved the pattern's
    # anchor inside the window: then weekly, with the other weeks excepted.
    fortnightly = e["week_pattern"] != "every" and all((d - first).days % 14 == 0 for d in series.days)
    every = 2 if fortnightly else 1
    start_t, end_t = _time(e["start_time"]), _time(e["end_time"])
    ev = icalendar.Event()
    ev.add("uid", _uid("lesson", *series.key, student.ref, at=at))
    ev.add("dtstamp", stamp)
    ev.add("dtstart", dt.datetime.combine(first, start_t, tzinfo=tz))
    ev.add("dtend", dt.datetime.combine(first, end_t, tzinfo=tz))
    ev.add("summary", section["course_name"] if section else str(e["period"]))
    if section and section.get("room"):
        ev.add("location", section["room"])
    ev.add("description", f"{e['period']}")
    ev.add("categories", ["lesson"])
    if len(series.days) > 1:
        until = dt.datetime.combine(last, start_t, tzinfo=tz).astimezone(dt.UTC)
        rule: dict[str, Any] = {"freq": "weekly", "until": until}
        if every > 1:
            rule["interval"] = every
        ev.add("rrule", rule)
        present = set(series.days)
        missing = [d for d in rule_days(first, last, every) if d not in present]
        if missing:
            ev.add("exdate", [dt.datetime.combine(d, start_t, tzinfo=tz) for d in missing])
    return ev
