"""What the pages read, through the API's view: the same checks, windows and queries.

Every function takes a :class:`~cache.read.reader.StudentHandle`, which only the
relationship check hands out (:func:`gateway.api.routes.students.checked`), and reads
inside the student's visibility windows (:mod:`cache.read.visibility`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from cache.read import queries
from cache.read.reader import StudentHandle
from cache.read.visibility import StudentVisibility, rule_for, window
from cache.types import iso_day
from gateway.api import present
from gateway.api.deps import View
from gateway.api.routes.records import section_ref, sections
from gateway.api.routes.students import visibility
from gateway.web.render import N_

CATEGORIES = (
    "present",
    "late",
    "approved_educational_activity",
    "authorised_absence",
    "unauthorised_absence",
    "not_required",
)
CATEGORY = {
    "present": N_("Present"),
    "late": N_("Late"),
    "approved_educational_activity": N_("Approved educational activity"),
    "authorised_absence": N_("Excused absence"),
    "unauthorised_absence": N_("Unexcused absence"),
    "not_required": N_("Not required"),
}
# One letter per kind for a phone's calendar, with the key printed under it.
SHORT = {
    "present": N_("P (short for Present)"),
    "late": N_("L (short for Late)"),
    "approved_educational_activity": N_("O (short for Approved educational activity)"),
    "authorised_absence": N_("E (short for Excused absence)"),
    "unauthorised_absence": N_("U (short for Unexcused absence)"),
    "not_required": N_("N (short for Not required)"),
}
RESULT = {
    "none": N_("No result yet"),
    "submitted": N_("Turned in"),
    "missing": N_("Missing"),
    "late": N_("Late"),
    "exempt": N_("Exempt"),
    "graded": N_("Graded"),
    "partially_graded": N_("Partly graded"),
    "not_submitted": N_("Not turned in"),
}
MANY = 100_000


def year_start(view: View, s: StudentHandle) -> dt.date | None:
    ref = view.app.cache.keyring.index.shared_ref(s.source, "school", s.data["school_id"])
    school = queries.shared_many(view.reader, s.source, "school", [ref], s.published_run)
    return next(
        (dt.date.fromisoformat(v["year_start_date"]) for v in school.values() if v.get("year_start_date")),
        None,
    )


def lessons(view: View, s: StudentHandle, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """The student's lessons on each day of ``start..end``, in time order, as the API shows them."""
    return _present_lessons(view, s, queries.timetable(view.reader, s, start, end, year_start(view, s)))


def next_lessons(
    view: View, s: StudentHandle, today: dt.date, days: int, now: str, count: int
) -> list[dict[str, Any]]:
    """The first ``count`` lessons from ``now`` (``HH:MM`` today, school time) to ``days`` days ahead."""
    found: list[queries.Lesson] = []
    for lessons in queries.timetable_days(
        view.reader, s, today, today + dt.timedelta(days=days), year_start(view, s)
    ):
        found += [x for x in lessons if x.day > today or x.entry["end_time"] > now]
        if len(found) >= count:  # the days after cannot come earlier
            break
    return _present_lessons(view, s, found[:count])


def _present_lessons(view: View, s: StudentHandle, found: list[queries.Lesson]) -> list[dict[str, Any]]:
    secs = sections(view, s.source, [x.section_ref for x in found])
    return [present.lesson(iso_day(x.day), x.entry_ref, x.entry, secs[x.section_ref]) for x in found]


def attendance(
    view: View, s: StudentHandle, start: dt.date, end: dt.date, vis: StudentVisibility | None = None
) -> list[dict[str, Any]]:
    window = (vis or visibility(view, s)).of("attendance")
    rows = view.reader.records(s, "attendance", day_from=start, day_to=end, window=window, limit=MANY)
    return [present.attendance_mark(ref, a) for ref, a in rows]


def summary(marks: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and percentages by category, as ``/attendance/summary`` gives them."""
    counts = Counter(m["category"] for m in marks)
    total = len(marks)
    return {
        "sessions": total,
        "by_category": {
            c: {
                "count": counts.get(c, 0),
                "percent": round(100 * counts.get(c, 0) / total, 1) if total else None,
            }
            for c in CATEGORIES
        },
        "minutes_late": sum(m.get("minutes_late") or 0 for m in marks),
    }


def grades(
    view: View, s: StudentHandle, limit: int = MANY, vis: StudentVisibility | None = None
) -> list[dict[str, Any]]:
    rows = view.reader.records(s, "grade", window=(vis or visibility(view, s)).of("grade"), limit=limit)
    refs = {g["section_id"]: section_ref(view.app, s, g["section_id"]) for _, g in rows}
    secs = sections(view, s.source, list(refs.values()))
    return [present.grade(ref, g, secs[refs[g["section_id"]]]) for ref, g in rows]


def assignments(
    view: View, s: StudentHandle, start: dt.date, end: dt.date, vis: StudentVisibility | None = None
) -> list[dict[str, Any]]:
    window = (vis or visibility(view, s)).of("assignment")
    found = queries.assignments_due(view.reader, s, start, end, window=window)
    secs = sections(view, s.source, [sec for _, sec, _, _ in found])
    return [present.assignment(ref, a, secs[sec], res) for ref, sec, a, res in found]


def missing_assignments(
    view: View, s: StudentHandle, start: dt.date, end: dt.date, vis: StudentVisibility | None = None
) -> list[dict[str, Any]]:
    """:func:`assignments` whose result is "missing" (the same rows, in the same order)."""
    window = (vis or visibility(view, s)).of("assignment")
    found = queries.assignments_due(view.reader, s, start, end, window=window, status="missing")
    secs = sections(view, s.source, [sec for _, sec, _, _ in found])
    return [present.assignment(ref, a, secs[sec], res) for ref, sec, a, res in found]


def behaviour(
    view: View, s: StudentHandle, start: dt.date, end: dt.date, vis: StudentVisibility | None = None
) -> dict[str, Any]:
    rows = _behaviour(view, s, start, end, vis)
    return {"totals": _points(rows), "events": [present.behaviour_event(ref, b) for ref, b in rows]}


def points(
    view: View, s: StudentHandle, start: dt.date, end: dt.date, vis: StudentVisibility | None = None
) -> dict[str, int]:
    """:func:`behaviour`'s totals alone (the family home shows no events)."""
    return _points(_behaviour(view, s, start, end, vis))


def _behaviour(
    view: View, s: StudentHandle, start: dt.date, end: dt.date, vis: StudentVisibility | None
) -> list[tuple[str, dict[str, Any]]]:
    window = (vis or visibility(view, s)).of("behaviour")
    return view.reader.records(s, "behaviour", day_from=start, day_to=end, window=window, limit=MANY)


def _points(rows: list[tuple[str, dict[str, Any]]]) -> dict[str, int]:
    totals = {"achievement": 0, "behaviour": 0}
    for _, b in rows:
        totals[b["polarity"]] = totals.get(b["polarity"], 0) + int(b["points"])
    return {**totals, "net": totals["achievement"] + totals["behaviour"]}


def reports(
    view: View,
    s: StudentHandle,
    limit: int = MANY,
    vis: StudentVisibility | None = None,
    since: dt.date | None = None,
) -> list[dict[str, Any]]:
    """The student's reports, newest first; with ``since``, those issued on or after it."""
    window = (vis or visibility(view, s)).of("report")
    # A report's day column is its issue date.
    rows = view.reader.records(s, "report", day_from=since, window=window, limit=limit)
    return [present.report_summary(ref, r) for ref, r in rows]


def notices(view: View, students: list[StudentHandle], limit: int = 50) -> list[dict[str, Any]]:
    """Notices for these students' district, schools, year groups and classes, current first."""
    if not students:
        return []
    shown = window(rule_for(view.app.config.visibility, "notice"), view.now, view.app.tz)
    rows = queries.notices_now(
        view.reader,
        view.principal.source,
        view.published,
        queries.audiences(view.reader, students, view.today),
        now=shown.visible_before,
        today=view.today,
        since=view.today - dt.timedelta(days=30),
        limit=limit,
    )
    return [present.notice(ref, cur, body) for ref, cur, body in rows]


def first_name(s: StudentHandle) -> str:
    return str(s.data.get("preferred_first_name") or s.data["legal_first_name"])


def full_name(s: StudentHandle) -> str:
    last = s.data.get("preferred_last_name") or s.data["legal_last_name"]
    return f"{first_name(s)} {last}"
