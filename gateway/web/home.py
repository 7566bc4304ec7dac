"""The family home: every child the person may see now, across schools, on one page.

For each child: today's attendance (or when it will appear), the next lessons, recent
grades, missing assignments, behaviour and achievement points this month, and new
reports; then the family's current notices. A person who may see no child (every link
held) reads only that access is unavailable: never why.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.responses import Response

from cache.read.reader import StudentHandle
from gateway.api.deps import View
from gateway.api.routes.students import school_names, visibility
from gateway.web import reads
from gateway.web.render import Ctx, route
from gateway.web.texts import district_text

NEW_FOR = dt.timedelta(days=30)
# "Next lessons" looks this far ahead: far enough to reach Monday from a Friday.
NEXT_DAYS = 3


def _card(ctx: Ctx, view: View, s: StudentHandle, school: str | None) -> dict[str, Any]:
    """One child's card, its dates, times and numbers already written in the reader's
    language (the template only places them: a call from a template costs several times
    a call from here)."""
    today = view.today
    fmt, _ = ctx.fmt, ctx._
    vis = visibility(view, s)  # the child's windows now, in their school's zone, for every read below
    hidden = vis.of("attendance").hidden_day == today
    now_local = view.now.astimezone(vis.tz)
    upcoming = reads.next_lessons(view, s, today, NEXT_DAYS, now_local.strftime("%H:%M"), 3)
    missing = reads.missing_assignments(view, s, today - dt.timedelta(days=30), today, vis)
    points = reads.points(view, s, today - dt.timedelta(days=29), today, vis)
    grade_level = _("Grade level")
    return {
        "id": s.ref,
        "name": reads.full_name(s),
        "records": _("All of %(name)s's records", name=reads.first_name(s)),
        # Text the template places whole (escaped once): "school · Grade level 7".
        "school": f"{school or ''} · {grade_level} {s.data['grade_level']}",
        "today": None if hidden else reads.attendance(view, s, today, today, vis),
        # "date time – class, room": one text a lesson.
        "next": [
            f"{fmt.date(x['date'], 'short')} {fmt.time(x['start_time'])} – {x['class']['name']}"
            + (", " + _("room %(room)s", room=x["class"]["room"]) if x["class"]["room"] else "")
            for x in upcoming
        ],
        "grades": [
            {"class": g["class"]["name"], "shown": g["mark"] or fmt.percent(g["percent"]), "term": g["term"]}
            for g in reads.grades(view, s, limit=3, vis=vis)
        ],
        # "title (class, due date)": one text an assignment.
        "missing": [
            f"{a['title']} ({a['class']['name']}, " + _("due %(date)s", date=fmt.date(a["due_date"])) + ")"
            for a in missing[:5]
        ],
        "more_missing": _("See all %(n)s missing", n=len(missing)) if len(missing) > 5 else None,
        "points": _(
            "Achievement: %(a)s · Behavior: %(b)s",
            a=fmt.number(points["achievement"]),
            b=fmt.number(points["behaviour"]),
        ),
        "reports": [
            {"id": r["id"], "title": r["title"], "issued": fmt.date(r["issued_date"])}
            for r in reads.reports(view, s, limit=3, vis=vis, since=today - NEW_FOR)
        ],
    }


@route("/")
async def home(ctx: Ctx) -> Response:
    if not ctx.token:
        return ctx.redirect("/sign-in")
    view = await ctx.view()
    visible = view.reader.students(view.principal, view.published, view.today)
    view.audit_later("dashboard", [s.ref for s in visible])
    names = school_names(view.reader, view.app, visible)
    cards = [_card(ctx, view, s, names.get(s.data["school_id"])) for s in visible]
    notices = [
        {"title": n["title"], "from": ctx.fmt.date(n["publish_from"]), "body": n["body"]}
        for n in reads.notices(view, visible, limit=5)
        if n["current"]
    ]
    await view.settle()
    return ctx.render(
        "home.html",
        age=ctx.age(view),
        role=view.principal.role,
        cards=cards,
        notices=notices,
        attendance_notice=district_text(ctx, "attendance_notice"),
        categories=ctx.translated(reads.CATEGORY),
    )
