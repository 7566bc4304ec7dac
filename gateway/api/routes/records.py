"""Per-student data routes: attendance summary, timetable, grades, assignments, behaviour, reports.

Each handler first passes :func:`checked` (the relationship check, audited), then
reads through the handle it returns, so a record can only come from a student the
caller may see now; everything else is the one uniform 404.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from fastapi import Query
from starlette.responses import Response

from cache.read import queries
from cache.read.reader import FirstRead, RecordsRead, StudentHandle
from cache.read.visibility import Window
from gateway.api import present
from gateway.api.deps import Portico, View, ViewDep
from gateway.api.envelope import meta
from gateway.api.params import (
    DateRange,
    date_range,
    decode_cursor,
    decode_pair,
    encode_cursor,
    is_day,
    is_ref,
    is_time,
    one_page,
    page_limit,
    parse_ref,
)
from gateway.api.problems import not_found
from gateway.api.routes.students import (
    Dated,
    avisibility,
    checked,
    dated,
    dated_read,
    first_records,
    respond,
)
from gateway.api.routing import DataRouter, FirstOf

router = DataRouter(prefix="/v1/students", tags=["students"])
FROM = Query(default=None, alias="from")


def sections(view: View, source: str, refs: list[str | None]) -> dict[str, dict[str, Any]]:
    found = queries.shared_many(view.reader, source, "section", [r for r in refs if r], view.published)
    return _briefs(refs, found)


async def asections(view: View, source: str, refs: list[str | None]) -> dict[str, dict[str, Any]]:
    """:func:`sections`, the classes this snapshot has not read yet read awaited
    (``queries.ashared_many``): on the serving loop, no worker thread needed."""
    found = await queries.ashared_many(view.reader, source, "section", [r for r in refs if r], view.published)
    return _briefs(refs, found)


def _briefs(refs: list[str | None], found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {ref: present.section_brief(ref, found.get(ref)) for ref in {r for r in refs if r}}


def section_ref(app: Portico, s: StudentHandle, section_id: str) -> str:
    return app.cache.keyring.index.shared_ref(s.source, "section", section_id)


def local_day(app: Portico, stamp: str) -> str:
    return dt.datetime.fromisoformat(stamp).astimezone(app.tz).date().isoformat()


# Every record of a range, for totals: no page.
EVERY = 1_000_000


def _summary(rng: DateRange, window: Window) -> RecordsRead:
    return RecordsRead("attendance", rng.start, rng.end, window, None, EVERY)


def _summary_first(app: Portico, now: dt.datetime, today: dt.date, a: dict[str, Any]) -> FirstRead | None:
    rng = date_range(a["from_"], a["to"], today, app.config.api)
    return first_records(app, now, "attendance", lambda w: _summary(rng, w))


@router.get("/{student_id}/attendance/summary", on_loop=True, first=_summary_first)
async def attendance_summary(
    student_id: str, view: ViewDep, from_: str | None = FROM, to: str | None = None
) -> Response:
    app = view.app
    s = await checked(view, student_id, "attendance")
    rng = date_range(from_, to, view.today, app.config.api)
    window = (await avisibility(view, s)).of("attendance")
    rows = await view.reader.aread(s, _summary(rng, window))
    counts = Counter(a["category"] for _, a in rows)
    total = len(rows)
    by_category = {
        c: {
            "count": counts.get(c, 0),
            "percent": round(100 * counts.get(c, 0) / total, 1) if total else None,
            "meaning": meaning,
        }
        for c, meaning in present.ATTENDANCE_CATEGORIES.items()
    }
    # Sessions that count (every category but "not counted"), and the share attended:
    # present, late and approved educational activities, as the DfE counts attendance.
    possible = total - counts.get("not_required", 0)
    attended = sum(counts.get(c, 0) for c in ("present", "late", "approved_educational_activity"))
    data = {
        "from": rng.start,
        "to": rng.end,
        "sessions": total,
        "by_category": by_category,
        "minutes_late": sum(a.get("minutes_late") or 0 for _, a in rows),
        "possible_sessions": possible,
        "attendance_percent": round(100 * attended / possible, 1) if possible else None,
    }
    return await respond(view, data, meta(app.config, view.state, window.lag))


def _timetable_first(app: Portico, now: dt.datetime, today: dt.date, a: dict[str, Any]) -> FirstRead:
    return queries.TIMETABLE_FIRST  # the student's enrolments and own entries: whatever the range


@router.get("/{student_id}/timetable", on_loop=True, first=_timetable_first)
async def timetable(
    student_id: str,
    view: ViewDep,
    from_: str | None = FROM,
    to: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Response:
    app = view.app
    s = await checked(view, student_id, "timetable")
    # The timetable looks ahead: this week by default, not the last 30 days.
    rng = date_range(from_, to, view.today, app.config.api, default_days=7, ahead=True)
    n = page_limit(limit, app.config.api)
    after = decode_cursor(cursor, is_day, is_time, is_ref)
    school_ref = app.cache.keyring.index.shared_ref(s.source, "school", s.data["school_id"])
    school = await queries.ashared_many(view.reader, s.source, "school", [school_ref], s.published_run)
    year_start = next((dt.date.fromisoformat(v["year_start_date"]) for v in school.values()), None)
    lessons = await queries.atimetable(view.reader, s, rng.start, rng.end, year_start)
    if after is not None:
        lessons = [x for x in lessons if (x.day.isoformat(), x.entry["start_time"], x.entry_ref) > after]
    page, next_cursor = lessons[:n], None
    if len(lessons) > n:
        last = page[-1]
        next_cursor = encode_cursor(last.day.isoformat(), last.entry["start_time"], last.entry_ref)
    secs = await asections(view, s.source, [x.section_ref for x in page])
    days = {day: day.isoformat() for day in {x.day for x in page}}
    data = [present.lesson(days[x.day], x.entry_ref, x.entry, secs[x.section_ref]) for x in page]
    return await respond(
        view, data, meta(app.config, view.state, app.config.visibility.timetable.lag, next_cursor)
    )


def _paged(kind: str, n: int, after: tuple[str, str] | None, window: Window) -> RecordsRead:
    """The read of a page of ``kind`` records (and one more, to know there is a next) from
    the cursor ``after``, newest first, inside ``window``: grades' and reports'."""
    return RecordsRead(kind, None, None, window, after, n + 1)


def _paged_first(kind: str) -> FirstOf:
    """The first read of a route that reads :func:`_paged` (``limit`` and ``cursor``)."""

    def first(app: Portico, now: dt.datetime, today: dt.date, a: dict[str, Any]) -> FirstRead | None:
        n, after = page_limit(a["limit"], app.config.api), decode_pair(a["cursor"])
        return first_records(app, now, kind, lambda w: _paged(kind, n, after, w))

    return first


@router.get("/{student_id}/grades", on_loop=True, first=_paged_first("grade"))
async def grades(
    student_id: str, view: ViewDep, limit: int | None = None, cursor: str | None = None
) -> Response:
    app = view.app
    s = await checked(view, student_id, "grades")
    n = page_limit(limit, app.config.api)
    window = (await avisibility(view, s)).of("grade")
    rows = await view.reader.aread(s, _paged("grade", n, decode_pair(cursor), window))
    rows, next_cursor = one_page(rows, n, lambda row: (local_day(app, row[1]["updated_at"]), row[0]))
    refs = {g["section_id"]: section_ref(app, s, g["section_id"]) for _, g in rows}
    secs = await asections(view, s.source, list(refs.values()))
    data = [present.grade(ref, g, secs[refs[g["section_id"]]]) for ref, g in rows]
    return await respond(view, data, meta(app.config, view.state, window.lag, next_cursor))


@router.get("/{student_id}/assignments", on_loop=True)
async def assignments(
    student_id: str,
    view: ViewDep,
    from_: str | None = FROM,
    to: str | None = None,
    class_id: str | None = Query(default=None, alias="class", max_length=24),
    limit: int | None = None,
    cursor: str | None = None,
) -> Response:
    app = view.app
    s = await checked(view, student_id, "assignments")
    rng = date_range(from_, to, view.today, app.config.api)
    n = page_limit(limit, app.config.api)
    section = parse_ref(class_id, "class")
    window = (await avisibility(view, s)).of("assignment")
    found = await queries.aassignments(
        view.reader,
        s,
        rng.start,
        rng.end,
        section_ref=section,
        window=window,
        after=decode_pair(cursor),
        limit=n + 1,
    )
    found, next_cursor = one_page(found, n, lambda row: (row[2]["due_date"], row[0]))
    secs = await asections(view, s.source, [sec for _, sec, _, _ in found])
    data = [present.assignment(ref, a, secs[sec], res) for ref, sec, a, res in found]
    return await respond(view, data, meta(app.config, view.state, window.lag, next_cursor))


def _behaviour(q: Dated, window: Window) -> RecordsRead:
    """The first page's read is the range's (its newest events and the totals at once);
    a later page reads its page, then the range (``q`` without its cursor)."""
    return dated_read("behaviour", q, window, None if q.after is not None else EVERY)


def _behaviour_first(app: Portico, now: dt.datetime, today: dt.date, a: dict[str, Any]) -> FirstRead | None:
    q = dated(app, today, a["from_"], a["to"], a["limit"], a["cursor"])
    return first_records(app, now, "behaviour", lambda w: _behaviour(q, w))


@router.get("/{student_id}/behaviour", on_loop=True, first=_behaviour_first)
async def behaviour(
    student_id: str,
    view: ViewDep,
    from_: str | None = FROM,
    to: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Response:
    app = view.app
    s = await checked(view, student_id, "behaviour")
    q = dated(app, view.today, from_, to, limit, cursor)
    rng, n = q.rng, q.n
    window = (await avisibility(view, s)).of("behaviour")
    # Totals cover the whole range, not just this page. The first page is the range's
    # newest events: one read of the range gives both (one statement, not two, when the
    # range holds more than a page). A later page reads its page and the range.
    rows = await view.reader.aread(s, _behaviour(q, window))
    if q.after is None:
        every, rows = rows, rows[: n + 1]
    else:
        every = await view.reader.aread(s, _behaviour(q._replace(after=None), window))
    totals = {"achievement": 0, "behaviour": 0}
    for _, b in every:
        totals[b["polarity"]] = totals.get(b["polarity"], 0) + int(b["points"])
    rows, next_cursor = one_page(rows, n, lambda row: (local_day(app, row[1]["occurred_at"]), row[0]))
    data = {
        "from": rng.start,
        "to": rng.end,
        # Behaviour points arrive negative from the source: the net is the plain sum.
        "totals": {**totals, "net": totals["achievement"] + totals["behaviour"]},
        "events": [present.behaviour_event(ref, b) for ref, b in rows],
    }
    return await respond(view, data, meta(app.config, view.state, window.lag, next_cursor))


@router.get("/{student_id}/reports", on_loop=True, first=_paged_first("report"))
async def reports(
    student_id: str, view: ViewDep, limit: int | None = None, cursor: str | None = None
) -> Response:
    app = view.app
    s = await checked(view, student_id, "reports")
    n = page_limit(limit, app.config.api)
    window = (await avisibility(view, s)).of("report")
    rows = await view.reader.aread(s, _paged("report", n, decode_pair(cursor), window))
    rows, next_cursor = one_page(rows, n, lambda row: (row[1]["issued_date"], row[0]))
    data = [present.report_summary(ref, r) for ref, r in rows]
    return await respond(view, data, meta(app.config, view.state, window.lag, next_cursor))


@router.get("/{student_id}/reports/{report_id}", on_loop=True)
async def report(student_id: str, report_id: str, view: ViewDep) -> Response:
    app = view.app
    s = await checked(view, student_id, "reports")
    found = await queries.aone(view.reader, s, "report", report_id) if is_ref(report_id) else None
    if found is None:
        await view.settle()
        raise not_found()
    lag = app.config.visibility.reports.lag
    return await respond(view, present.report(report_id, found), meta(app.config, view.state, lag))
