"""One child's records about records: progress reports, who looked at them (the access
log), the download of everything Portico holds (JSON or a zip of CSV files), and
correction requests to the school with their status.
"""

from __future__ import annotations

from starlette.responses import Response

from cache.read import queries
from gateway.access import throttle
from gateway.api.envelope import NO_STORE
from gateway.api.params import is_row_id
from gateway.api.problems import not_found, too_many_requests
from gateway.api.routes.privacy import file_correction
from gateway.api.routes.students import visible_or_404
from gateway.privacy import accesslog, corrections, export
from gateway.web import reads
from gateway.web.child import opened, show
from gateway.web.forms import Errors
from gateway.web.render import N_, Ctx, route

PAGE = 50
ABOUT = {
    "attendance": N_("Attendance"),
    "timetable": N_("Schedule"),
    "grades": N_("Grades"),
    "assignments": N_("Assignments"),
    "behaviour": N_("Behavior and achievements"),
    "reports": N_("Progress reports"),
    "details": N_("Personal details"),
    "other": N_("Something else"),
}


# What each audited read was, as the access log names it (the audit's categories).
LOOKED_AT = {
    "attendance": N_("Attendance"),
    "timetable": N_("Schedule"),
    "grades": N_("Grades"),
    "assignments": N_("Assignments"),
    "behaviour": N_("Behavior"),
    "notices": N_("Notices"),
    "reports": N_("Reports"),
    "profile": N_("Profile"),
    "directory": N_("List of students"),
    "dashboard": N_("Family home"),
    "corrections": N_("Corrections"),
    "access-log": N_("Access log"),
    "export": N_("Download"),
}


@route("/children/{student_id}/reports")
async def reports(ctx: Ctx) -> Response:
    view, s = await opened(ctx, "reports")
    return await show(ctx, view, s, "reports.html", "reports", reports=reads.reports(view, s))


@route("/children/{student_id}/reports/{report_id}")
async def report(ctx: Ctx) -> Response:
    view, s = await opened(ctx, "reports")
    rid = ctx.request.path_params["report_id"]
    found = next((r for r in reads.reports(view, s) if r["id"] == rid), None) if len(rid) <= 24 else None
    if found is None:  # not theirs, not there, or still inside the reports' window: one 404
        await view.settle()
        raise not_found()
    body = queries.one(view.reader, s, "report", rid) or {}
    return await show(
        ctx, view, s, "report.html", "reports", report={**found, "comments": body.get("comments")}
    )


@route("/children/{student_id}/access-log")
async def access_log(ctx: Ctx) -> Response:
    view, s = await opened(ctx, "access-log")
    raw = ctx.request.query_params.get("before", "")
    before = int(raw) if is_row_id(raw) else None
    viewer = accesslog.Viewer(view.principal.account_id, view.principal.role)
    entries, next_id = accesslog.entries(
        view.reader.conn, s.source, s.ref, viewer, limit=PAGE, before_id=before
    )
    return await show(
        ctx, view, s, "access_log.html", "access-log", entries=entries, next_id=next_id, looked_at=LOOKED_AT
    )


@route("/children/{student_id}/export", ("GET", "POST"))
async def export_page(ctx: Ctx) -> Response:
    if ctx.request.method == "GET":
        view, s = await opened(ctx, "export")
        return await show(ctx, view, s, "export.html", "export")
    view = await ctx.view()
    found = visible_or_404(view, ctx.request.path_params["student_id"])
    # Limited and audited like GET /v1/students/{id}/export, before anything is built.
    app, who = view.app, view.principal.account_id
    wait = throttle.export_wait(view.reader.conn, app.config.api.throttles, who, app.clock())
    view.reader.conn.commit()
    if wait is not None:
        raise too_many_requests(wait, "Too many exports.")
    view.audit("export", [found.ref], action="export")
    doc = export.build(
        view.reader,
        view.principal,
        found,
        now=view.now,
        district_tz=view.app.tz,
        visibility=view.app.config.visibility,
    )
    name = f"portico-export-{found.ref}"
    if ctx.form.get("format") == "csv":
        body, kind, suffix = export.to_zip(doc), "application/zip", "zip"
    else:
        body, kind, suffix = export.to_json(doc), "application/json", "json"
    return Response(
        body,
        media_type=kind,
        headers={
            **NO_STORE,
            "Content-Disposition": f'attachment; filename="{name}.{suffix}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@route("/children/{student_id}/corrections", ("GET", "POST"))
async def correction_requests(ctx: Ctx) -> Response:
    view, s = await opened(ctx, "corrections")
    conn, keyring = view.reader.conn, view.reader.keyring
    errors = Errors()
    about, message = "", ""
    if ctx.request.method == "POST":
        about, message = ctx.form.get("about", ""), ctx.form.get("message", "").strip()
        if about not in ABOUT:
            errors.add("about", ctx._("Choose what the correction is about."))
        if not message:
            errors.add("message", ctx._("Say what is wrong and what it should be."))
        elif len(message) > 4000:
            errors.add("message", ctx._("Write at most 4,000 characters."))
        if not errors:
            # Filed, limited and mailed as POST /v1/students/{id}/corrections files them.
            cid = await file_correction(view, s, about, message)
            await view.settle()
            return ctx.redirect(f"/children/{s.ref}/corrections?sent={cid}")
    mine = corrections.of_student(conn, keyring, s.source, s.ref, view.principal.account_id)
    return await show(
        ctx, view, s, "corrections.html", "corrections", status=400 if errors else 200,
        errors=errors, about=about, message=message, topics=ABOUT,
        requests=[c.public() for c in mine], sent=ctx.request.query_params.get("sent"),
    )  # fmt: skip
