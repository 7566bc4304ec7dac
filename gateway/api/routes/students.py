"""Student routes: the list, one profile, and attendance, each through the authorised view."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, NamedTuple

from fastapi import Query
from starlette.responses import Response

from cache.read import queries
from cache.read.reader import FirstRead, Reader, RecordsRead, StudentHandle, records_first
from cache.read.visibility import StudentVisibility, Window, aschool_zone, rule_for, window
from gateway.api.deps import Portico, View, ViewDep
from gateway.api.envelope import envelope, meta
from gateway.api.params import DateRange, date_range, decode_pair, is_ref, one_page, page_limit
from gateway.api.present import attendance_mark, student_profile, student_summary
from gateway.api.problems import not_found
from gateway.api.routing import DataRouter

router = DataRouter(prefix="/v1/students", tags=["students"])


def today_in(app: Portico) -> dt.date:
    return app.today()


def school_names(reader: Reader, app: Portico, students: list[StudentHandle]) -> dict[str, str]:
    names: dict[str, str] = {}
    for s in students:
        school_id = s.data["school_id"]
        if school_id not in names:
            # Schools are shared records: decrypted once per snapshot (queries.shared_many).
            ref = app.cache.keyring.index.shared_ref(s.source, "school", school_id)
            _named(
                names,
                school_id,
                queries.shared_many(reader, s.source, "school", [ref], s.published_run).get(ref),
            )
    return names


async def aschool_names(reader: Reader, app: Portico, students: list[StudentHandle]) -> dict[str, str]:
    """:func:`school_names`, the schools this snapshot has not read yet read awaited
    (``queries.ashared_many``): on the serving loop, no worker thread needed."""
    names: dict[str, str] = {}
    for s in students:
        school_id = s.data["school_id"]
        if school_id not in names:
            ref = app.cache.keyring.index.shared_ref(s.source, "school", school_id)
            found = await queries.ashared_many(reader, s.source, "school", [ref], s.published_run)
            _named(names, school_id, found.get(ref))
    return names


def _named(names: dict[str, str], school_id: str, school: dict[str, Any] | None) -> None:
    if school is not None:
        names[school_id] = school["name"]


def _visible(view: View, student_id: str, category: str | None = None) -> StudentHandle | None:
    """The student if the caller may see it now; an id no ref could be is nobody's, and a
    category a family token was not given is nobody's either (:meth:`View.allows`)."""
    if not is_ref(student_id) or not view.allows(category):
        return None
    return view.student(student_id)


def visible_or_404(view: View, student_id: str, category: str | None = None) -> StudentHandle:
    """The student if the caller may see it now; otherwise the one uniform 404, the denial
    counted for the caller (:meth:`View.denied`). Nothing is audited yet: nothing was disclosed."""
    found = _visible(view, student_id, category)
    if found is None:
        view.denied()
        raise not_found()
    return found


def authorised(view: View, student_id: str, category: str, action: str = "read") -> StudentHandle:
    """:func:`visible_or_404`, with the disclosure recorded in the audit chain."""
    found = visible_or_404(view, student_id, category)
    view.audit(category, [found.ref], action)
    return found


async def checked(view: View, student_id: str, category: str) -> StudentHandle:
    """Like :func:`authorised`, with the audit event group-committed (see ``gateway.api.auditbatch``)."""
    found = _visible(view, student_id, category)
    if found is None:
        view.denied()
        await view.settle()
        raise not_found()
    view.audit_later(category, [found.ref])
    return found


async def respond(view: View, data: Any, meta_: dict[str, Any]) -> Response:
    """The envelope, once this request's audit events are durable (no data leaves before)."""
    await view.settle()
    return envelope(data, meta_)


def visibility(view: View, student: StudentHandle) -> StudentVisibility:
    """The student's visibility windows now (:mod:`cache.read.visibility`): every data route's."""
    return StudentVisibility(view.app.config.visibility, view.now, view.reader, student, view.app.tz)


async def avisibility(view: View, student: StudentHandle) -> StudentVisibility:
    """:func:`visibility`, the school's first read in a snapshot awaited (``aschool_zone``)."""
    tz = await aschool_zone(view.reader, student, view.app.tz)
    return StudentVisibility(view.app.config.visibility, view.now, view.reader, student, view.app.tz, tz)


class Dated(NamedTuple):
    """A dated list's query: its range of days, its page size and the cursor it goes on from."""

    rng: DateRange
    n: int
    after: tuple[str, str] | None


def dated(
    app: Portico, today: dt.date, from_: str | None, to: str | None, limit: int | None, cursor: str | None
) -> Dated:
    """The query of a list of the last 30 days by default (its bad values: 400, each named)."""
    api = app.config.api
    return Dated(date_range(from_, to, today, api), page_limit(limit, api), decode_pair(cursor))


def dated_read(kind: str, q: Dated, window: Window, limit: int | None = None) -> RecordsRead:
    """The read of ``kind`` records within ``q``'s range, from its cursor, newest first, inside
    ``window``: ``limit`` rows (default: a page and one more, to know there is a next)."""
    return RecordsRead(kind, q.rng.start, q.rng.end, window, q.after, q.n + 1 if limit is None else limit)


def first_records(
    app: Portico, now: dt.datetime, kind: str, plan: Callable[[Window], RecordsRead]
) -> FirstRead | None:
    """A route's first read (``DataRouter.get(first=...)``): ``plan`` for ``kind``'s window
    in the district's time zone. A school in another zone whose window differs reads it again.
    None where sources attach to students (``students_of``): their records are read from
    every feed, with runs the plan does not know, so the plan would be read for nothing."""
    if app.attached:
        return None
    district = window(rule_for(app.config.visibility, kind), now, app.tz)
    return records_first(plan(district), app.cache.engine.dialect.name)


@router.get("", on_loop=True)
async def list_students(view: ViewDep) -> Response:
    app = view.app
    visible = await view.reader.astudents(view.principal, view.published, view.today)
    view.audit_later("directory", [s.ref for s in visible])
    names = await aschool_names(view.reader, app, visible)
    data = [student_summary(s.ref, s.data, names.get(s.data["school_id"])) for s in visible]
    return await respond(view, data, meta(app.config, view.state, dt.timedelta(0)))


@router.get("/{student_id}", on_loop=True)
async def get_student(student_id: str, view: ViewDep) -> Response:
    app = view.app
    s = await checked(view, student_id, "profile")
    names = await aschool_names(view.reader, app, [s])
    return await respond(
        view,
        student_profile(s.ref, s.data, names.get(s.data["school_id"])),
        meta(app.config, view.state, dt.timedelta(0)),
    )


def _attendance(q: Dated, window: Window) -> RecordsRead:
    return dated_read("attendance", q, window)


def _attendance_first(app: Portico, now: dt.datetime, today: dt.date, a: dict[str, Any]) -> FirstRead | None:
    q = dated(app, today, a["from_"], a["to"], a["limit"], a["cursor"])
    return first_records(app, now, "attendance", lambda w: _attendance(q, w))


@router.get("/{student_id}/attendance", on_loop=True, first=_attendance_first)
async def attendance(
    student_id: str,
    view: ViewDep,
    from_: str | None = Query(default=None, alias="from"),
    to: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Response:
    app = view.app
    s = await checked(view, student_id, "attendance")
    q = dated(app, view.today, from_, to, limit, cursor)
    window = (await avisibility(view, s)).of("attendance")
    rows = await view.reader.aread(s, _attendance(q, window))
    rows, next_cursor = one_page(rows, q.n, lambda row: (str(row[1]["date"]), row[0]))
    data = [attendance_mark(ref, a) for ref, a in rows]
    return await respond(view, data, meta(app.config, view.state, window.lag, next_cursor))
