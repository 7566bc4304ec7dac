"""The family home: every child the person may see now, across schools, on one page.

For each child: today's attendance (or when it will appear), the next lessons, recent
grades, missing assignments, behaviour and achievement points this month, and new
reports; then the family's current notices. A person who may see no child (every link
held) reads only that access is unavailable: never why.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from markupsafe import Markup, escape
from starlette.responses import Response

from cache.read.reader import StudentHandle
from gateway.api.deps import View
from gateway.api.routes.students import school_names, visibility
from gateway.web import reads
from gateway.web.render import N_, Ctx, Texts, route
from gateway.web.texts import district_text

NEW_FOR = dt.timedelta(days=30)
# "Next lessons" looks this far ahead: far enough to reach Monday from a Friday.
NEXT_DAYS = 3
# The card's own words, and the attendance kinds (see card_html).
CARD_TEXT = Texts(
    {
        "today": N_("Today's attendance"),
        "not_shown": N_("Not shown yet: today's marks appear later in the day."),
        "no_marks": N_("No marks recorded today."),
        "next": N_("Next lessons"),
        "no_lessons": N_("No lessons in the next few days."),
        "grades": N_("Recent grades"),
        "no_grades": N_("None yet."),
        "missing_head": N_("Missing assignments"),
        "missing": N_("Missing"),
        "no_missing": N_("None in the last 30 days."),
        "points": N_("Points in the last 30 days"),
        "reports": N_("New reports"),
        **{"kind:" + k: m for k, m in reads.CATEGORY.items()},
    }
)


def _card(ctx: Ctx, view: View, s: StudentHandle, school: str | None) -> dict[str, Any]:
    """One child's card, its dates, times and numbers already written in the reader's
    language (:func:`card_html` only places them: a call from a template costs several
    times a call from here)."""
    today = view.today
    fmt, _ = ctx.fmt, ctx._
    vis = visibility(view, s)  # the child's windows now, in their school's zone, for every read below
    hidden = vis.of("attendance").hidden_day == today
    now_local = view.now.astimezone(vis.tz)
    hhmm = f"{now_local.hour:02}:{now_local.minute:02}"  # strftime("%H:%M") without the C library's
    upcoming = reads.next_lessons(view, s, today, NEXT_DAYS, hhmm, 3)
    missing = reads.missing_assignments(view, s, today - dt.timedelta(days=30), today, vis)
    points = reads.points(view, s, today - dt.timedelta(days=29), today, vis)
    grade_level = _("Grade level")
    return {
        "id": s.ref,
        "name": reads.full_name(s),
        "records": _("All of %(name)s's records", name=reads.first_name(s)),
        # Text card_html places whole (escaped once): "school · Grade level 7".
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


def card_html(text: dict[str, str], c: dict[str, Any]) -> Markup:
    """One child's card (:func:`_card`) as HTML, every value escaped: written here, not by
    a loop in the template (each value placed there is a lookup, a call and a yield).
    ``text`` is :data:`CARD_TEXT` in the page's language."""
    e = escape
    ref = e(c["id"])
    out = [
        f'<section class="card" aria-labelledby="child-{ref}">\n'
        f'  <h2 id="child-{ref}"><a href="/children/{ref}/attendance">{e(c["name"])}</a></h2>\n'
        f'  <p class="muted">{e(c["school"])}</p>\n'
        f"  <h3>{text['today']}</h3>\n"
    ]
    today = c["today"]
    if today is None:
        out.append(f"  <p>{text['not_shown']}</p>\n")
    elif not today:
        out.append(f"  <p>{text['no_marks']}</p>\n")
    else:
        out.append("  <ul>")
        for m in today:
            session = "" if m["session"] == "day" else f"{e(m['session'])}: "
            kind = m["category"]
            out.append(f'<li>{session}<span class="tag {e(kind)}">{text["kind:" + kind]}</span></li>')
        out.append("</ul>\n")
    out.append(f"  <h3>{text['next']}</h3>\n")
    if c["next"]:
        out.append("  <ul>" + "".join(f"<li>{e(x)}</li>" for x in c["next"]) + "</ul>\n")
    else:
        out.append(f"<p>{text['no_lessons']}</p>")
    out.append(f"  <h3>{text['grades']}</h3>\n")
    if c["grades"]:
        out.append(
            "  <ul>"
            + "".join(
                f"<li>{e(g['class'])}: <strong>{e(g['shown'])}</strong> ({e(g['term'])})</li>"
                for g in c["grades"]
            )
            + "</ul>\n"
        )
    else:
        out.append(f"<p>{text['no_grades']}</p>")
    out.append(f"  <h3>{text['missing_head']}</h3>\n")
    if c["missing"]:
        tag = f'<li><span class="tag missing">{text["missing"]}</span> '
        out.append("  <ul>" + "".join(f"{tag}{e(x)}</li>" for x in c["missing"]) + "</ul>\n")
        if c["more_missing"]:
            out.append(f'<p><a href="/children/{ref}/assignments">{e(c["more_missing"])}</a></p>')
    else:
        out.append(f"<p>{text['no_missing']}</p>")
    out.append(f"  <h3>{text['points']}</h3>\n  <p>{e(c['points'])}</p>\n")
    if c["reports"]:
        out.append(f"  <h3>{text['reports']}</h3>\n  <ul>")
        out += [
            f'<li><a href="/children/{ref}/reports/{e(r["id"])}">{e(r["title"])}</a> ({e(r["issued"])})</li>'
            for r in c["reports"]
        ]
        out.append("</ul>\n")
    out.append(f'  <p><a href="/children/{ref}/attendance">{e(c["records"])}</a></p>\n</section>\n')
    return Markup("".join(out))  # noqa: S704 - each value above escaped; the rest is markup written here


@route("/")
async def home(ctx: Ctx) -> Response:
    if not ctx.token:
        return ctx.redirect("/sign-in")
    view = await ctx.view()
    visible = view.reader.students(view.principal, view.published, view.today)
    view.audit_later("dashboard", [s.ref for s in visible])
    names = school_names(view.reader, view.app, visible)
    text = CARD_TEXT(ctx.locale)
    # Every card, in the children's order, as one piece of markup: the template places it
    # (or, with none, says that access is unavailable) and loops over nothing.
    cards = Markup(  # noqa: S704 - each card's values escaped by card_html
        "".join([card_html(text, _card(ctx, view, s, names.get(s.data["school_id"]))) for s in visible])
    )
    e = escape
    notices = Markup(  # noqa: S704 - each value escaped: the list's items, written here (no loop in the template)
        "".join(
            f"<li><strong>{e(n['title'])}</strong> ({e(ctx.fmt.date(n['publish_from']))}): {e(n['body'])}</li>"
            for n in reads.notices(view, visible, limit=5)
            if n["current"]
        )
    )
    await view.settle()
    return ctx.render(
        "home.html",
        age=ctx.age(view),
        role=view.principal.role,
        cards=cards,
        notices=notices,
        attendance_notice=district_text(ctx, "attendance_notice"),
    )
