"""One child's pages: attendance (a month), timetable (a week), grades, assignments,
behaviour and notices.

Each page first passes the API's relationship check for the child in its URL
(:func:`gateway.api.routes.students.checked`, audited), so a child who is not yours is
the same 404 page as one who does not exist.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from markupsafe import Markup, escape
from starlette.responses import Response

from cache.read.reader import StudentHandle
from cache.read.visibility import school_zone
from cache.types import iso_day
from gateway.api.deps import View
from gateway.api.problems import Problem
from gateway.api.routes.students import checked, school_names
from gateway.web import i18n, reads
from gateway.web.family import KIND_LABELS
from gateway.web.render import N_, Ctx, Texts, route
from gateway.web.texts import district_text

# The calendar's words: each attendance kind in full and as its letter, and minutes late.
CALENDAR_TEXT = Texts(
    {
        **{"long:" + k: m for k, m in reads.CATEGORY.items()},
        **{"short:" + k: m for k, m in reads.SHORT.items()},
        "minutes": N_("%(n)s min"),
    }
)

# The summary's rows and the key below the calendar: each kind in full, and its letter.
KINDS = Texts(reads.CATEGORY)
LETTERS = Texts(reads.SHORT)


def calendar_html(text: dict[str, str], weeks: list[list[dict[str, Any]]], today: dt.date) -> Markup:
    """The month's rows of days and their marks, every value escaped: written here, not by
    the template's loops (each value placed there is a lookup, a call and a yield; a month
    has 35 to 42 days). ``text`` is :data:`CALENDAR_TEXT` in the page's language."""
    e = escape
    out = []
    for week in weeks:
        out.append("  <tr>\n")
        for d in week:
            day = d["date"]
            out.append(
                f'    <td class="{"" if d["in_month"] else "out"}{" today" if day == today else ""}">\n'
                f'      <span class="day">{e(day.day)}</span>\n'
            )
            if d["in_month"] and d["marks"]:
                out.append("      <ul>")
                for m in d["marks"]:
                    session = "" if m["session"] == "day" else f"{e(m['session'])} "
                    kind = m["category"]
                    late = m["minutes_late"]
                    out.append(
                        f'<li>{session}<span class="tag {e(kind)}"><span class="long">{text["long:" + kind]}</span>'
                        f'<span class="short">{text["short:" + kind]}</span></span>'
                        + (f" {Markup(text['minutes']) % {'n': late}}" if late else "")  # noqa: S704 - escaped text
                        + "</li>"
                    )
                out.append("</ul>\n")
            out.append("    </td>\n")
        out.append("  </tr>\n")
    return Markup("".join(out))  # noqa: S704 - each value above escaped; the rest is markup written here


# The tabs of every child page, in order: each kind of record (named as the family
# tokens' kinds are), then the access log, the download and corrections.
TABS = Texts(
    {
        **KIND_LABELS,
        "access-log": N_("Access log"),
        "export": N_("Download"),
        "corrections": N_("Corrections"),
    }
)


def tabs_html(labels: dict[str, str], ref: str, tab: str) -> Markup:
    """The child's tabs, ``tab`` the current one (``labels``: :data:`TABS` in the page's language)."""
    ref = escape(ref)
    current = ' aria-current="page"'
    return Markup(  # noqa: S704 - the ref escaped, the labels escaped by Texts
        "".join(
            f'    <li><a href="/children/{ref}/{key}"{current if key == tab else ""}>{label}</a></li>\n'
            for key, label in labels.items()
        )
    )


async def opened(ctx: Ctx, category: str) -> tuple[View, StudentHandle]:
    view = await ctx.view()
    # Every child the person may see, read first: the check below is then answered from
    # the same query (cache.read.reader), and the page's switcher lists them.
    view.reader.students(view.principal, view.published, view.today)
    s = await checked(view, ctx.request.path_params["student_id"], category)
    # The child's times (the data's age, a behaviour event's) in their school's zone, which
    # may not be the district's: the zone the visibility windows use (cache.read.visibility).
    ctx.fmt = i18n.formatter(ctx.locale, school_zone(view.reader, s, view.app.tz))
    return view, s


async def show(ctx: Ctx, view: View, s: StudentHandle, template: str, tab: str, **values: Any) -> Response:
    """The child's page, once its audit events are durable, with the switcher to the other children."""
    children = view.reader.students(view.principal, view.published, view.today)
    school = school_names(view.reader, view.app, [s]).get(s.data["school_id"])
    await view.settle()
    return ctx.render(
        template,
        age=ctx.age(view),
        role=view.principal.role,
        child={
            "id": s.ref,
            "name": reads.full_name(s),
            "first_name": reads.first_name(s),
            "school": school,
            "grade_level": s.data["grade_level"],
        },
        children=[(c.ref, reads.first_name(c)) for c in children],
        tab=tab,
        tabs=tabs_html(TABS(ctx.locale), s.ref, tab),
        **values,
    )


def _month(raw: str | None, today: dt.date) -> dt.date:
    if not raw:
        return today.replace(day=1)
    try:
        first = dt.date.fromisoformat(raw + "-01")
    except ValueError:
        raise Problem(400, "invalid-request", "Invalid request") from None
    if abs((first - today).days) > 400:
        raise Problem(400, "invalid-request", "Invalid request")
    return first


@route("/children/{student_id}")
async def overview(ctx: Ctx) -> Response:
    return ctx.redirect(f"/children/{ctx.request.path_params['student_id'][:24]}/attendance")


@route("/children/{student_id}/attendance")
async def attendance(ctx: Ctx) -> Response:
    view, s = await opened(ctx, "attendance")
    first = _month(ctx.request.query_params.get("month"), view.today)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    marks = reads.attendance(view, s, first, min(last, view.today))
    by_day: dict[str, list[dict[str, Any]]] = {}
    for m in sorted(marks, key=lambda m: (m["date"], m["session"])):
        by_day.setdefault(str(m["date"]), []).append(m)
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month):
        weeks.append(
            [
                {"date": d, "in_month": d.month == first.month, "marks": by_day.get(d.isoformat(), [])}
                for d in week
            ]
        )
    prev_month = (first - dt.timedelta(days=1)).replace(day=1)
    next_month = last + dt.timedelta(days=1)
    return await show(
        ctx, view, s, "attendance.html", "attendance",
        month=first, calendar=calendar_html(CALENDAR_TEXT(ctx.locale), weeks, view.today),
        summary=reads.summary(marks),
        prev_month=iso_day(prev_month)[:7],  # YYYY-MM (strftime asks the C library: dearer)
        next_month=iso_day(next_month)[:7] if next_month <= view.today else None,
        categories=KINDS.plain(ctx.locale),
        short=LETTERS.plain(ctx.locale),
        attendance_notice=district_text(ctx, "attendance_notice"),
    )  # fmt: skip


@route("/children/{student_id}/timetable")
async def timetable(ctx: Ctx) -> Response:
    view, s = await opened(ctx, "timetable")
    raw = ctx.request.query_params.get("week")
    try:
        day = dt.date.fromisoformat(raw) if raw else view.today
    except ValueError:
        raise Problem(400, "invalid-request", "Invalid request") from None
    if abs((day - view.today).days) > 366:
        raise Problem(400, "invalid-request", "Invalid request")
    monday = day - dt.timedelta(days=day.weekday())
    found = reads.lessons(view, s, monday, monday + dt.timedelta(days=6))
    days = []
    for i in range(7):
        d = monday + dt.timedelta(days=i)
        todays = [x for x in found if x["date"] == d.isoformat()]
        if i < 5 or todays:
            days.append({"date": d, "lessons": todays})
    return await show(
        ctx, view, s, "timetable.html", "timetable",
        days=days, monday=monday, today=view.today,
        prev_week=(monday - dt.timedelta(days=7)).isoformat(), next_week=(monday + dt.timedelta(days=7)).isoformat(),
    )  # fmt: skip


@route("/children/{student_id}/grades")
async def grades(ctx: Ctx) -> Response:
    view, s = await opened(ctx, "grades")
    rows = sorted(reads.grades(view, s), key=lambda g: (g["class"]["name"] or "", g["term"]))
    return await show(ctx, view, s, "grades.html", "grades", grades=rows)


@route("/children/{student_id}/assignments")
async def assignments(ctx: Ctx) -> Response:
    view, s = await opened(ctx, "assignments")
    rows = reads.assignments(view, s, view.today - dt.timedelta(days=60), view.today + dt.timedelta(days=30))
    attention = [a for a in rows if a["result"] and a["result"]["status"] in ("missing", "late")]
    return await show(
        ctx, view, s, "assignments.html", "assignments",
        assignments=rows, attention=attention, results=reads.RESULT, today=view.today.isoformat(),
    )  # fmt: skip


@route("/children/{student_id}/behaviour")
async def behaviour(ctx: Ctx) -> Response:
    view, s = await opened(ctx, "behaviour")
    start = reads.year_start(view, s)
    if start is None or start > view.today or (view.today - start).days > 366:
        start = view.today - dt.timedelta(days=90)
    found = reads.behaviour(view, s, start, view.today)
    return await show(
        ctx, view, s, "behaviour.html", "behaviour",
        start=start, totals=found["totals"], events=found["events"],
        behaviour_notice=district_text(ctx, "behaviour_notice") if view.principal.role == "guardian" else None,
    )  # fmt: skip


@route("/children/{student_id}/notices")
async def notices(ctx: Ctx) -> Response:
    view, s = await opened(ctx, "notices")
    return await show(ctx, view, s, "notices.html", "notices", notices=reads.notices(view, [s]))
