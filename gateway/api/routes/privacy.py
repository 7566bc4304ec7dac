"""A family's privacy rights: the access log, the full export, and correction requests.

Every route goes through the same authorised view as the data routes (the one 404,
every access audited). Corrections are stored in Portico and mailed to the school's
data contact; nothing is ever written to the SIS.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cache.keys.keystore import Keyring
from cache.read.reader import Reader, StudentHandle
from cache.snapshots.runs import load_state
from config.settings import PorticoConfig
from gateway.access import accounts, throttle
from gateway.api.deps import App, View, ViewDep
from gateway.api.envelope import NO_STORE, envelope, json_response, meta
from gateway.api.params import decode_cursor, encode_cursor, is_row_id, page_limit
from gateway.api.problems import bad_request, too_many_requests
from gateway.api.routes.students import authorised, visible_or_404
from gateway.api.routing import DatabaseRoute
from gateway.ops.mail import MailError, Message
from gateway.privacy import accesslog, corrections, export
from gateway.privacy.texts import correction_email

router = APIRouter(prefix="/v1/students", tags=["privacy"], route_class=DatabaseRoute)
GET = ["GET"]  # HEAD is served as GET without a body (gateway.api.app.HeadAsGet)
log = structlog.get_logger("portico.privacy")


@router.api_route("/{student_id}/access-log", methods=GET)
async def access_log(
    student_id: str, view: ViewDep, app: App, limit: int | None = None, cursor: str | None = None
) -> Response:
    s = authorised(view, student_id, "access-log")
    n = page_limit(limit, app.config.api)
    after = decode_cursor(cursor, is_row_id)
    before_id = None if after is None else int(after[0])
    viewer = accesslog.Viewer(view.principal.account_id, view.principal.role)
    page, next_id = accesslog.entries(view.reader.conn, s.source, s.ref, viewer, limit=n, before_id=before_id)
    next_cursor = encode_cursor(str(next_id)) if next_id is not None else None
    return envelope(page, meta(app.config, view.state, dt.timedelta(0), next_cursor))


@router.api_route("/{student_id}/export", methods=GET)
async def export_student(
    student_id: str, view: ViewDep, app: App, format_: str = Query(default="json", alias="format")
) -> Response:
    if format_ not in ("json", "csv"):
        raise bad_request("format: json or csv", [{"field": "format", "message": "expected json or csv"}])
    found = visible_or_404(view, student_id)
    # An export reads and encodes everything held about the student: limited per account.
    wait = throttle.export_wait(
        view.reader.conn, app.config.api.throttles, view.principal.account_id, app.clock()
    )
    view.reader.conn.commit()
    if wait is not None:
        raise too_many_requests(wait, "Too many exports: wait before downloading again.")
    view.audit("export", [found.ref], action="export")
    doc = export.build(
        view.reader, view.principal, found, now=view.now, district_tz=app.tz, visibility=app.config.visibility
    )
    name = f"portico-export-{found.ref}"
    if format_ == "csv":
        return Response(
            export.to_zip(doc),
            media_type="application/zip",
            headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{name}.zip"'},
        )
    resp = envelope(doc, meta(app.config, view.state, dt.timedelta(0)))
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return resp


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    about: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=4000)


@router.api_route("/{student_id}/corrections", methods=GET)
async def list_corrections(student_id: str, view: ViewDep, app: App) -> Response:
    s = authorised(view, student_id, "corrections")
    mine = corrections.of_student(
        view.reader.conn, view.reader.keyring, s.source, s.ref, view.principal.account_id
    )
    return envelope([c.public() for c in mine], meta(app.config, view.state, dt.timedelta(0)))


async def file_correction(view: View, s: StudentHandle, about: str, message: str) -> str:
    """Store the caller's correction request (limited per account) and mail the school's
    data contact; the request's id. Stored either way: `portico corrections notify`
    re-sends the unsent (the API's route and the portal's form both file through here)."""
    app, conn, keyring = view.app, view.reader.conn, view.reader.keyring
    wait = throttle.correction_wait(conn, app.config.api.throttles, view.principal.account_id, app.clock())
    conn.commit()
    if wait is not None:
        raise too_many_requests(wait, "Too many correction requests: wait before sending another.")
    cid = corrections.create(
        conn,
        keyring,
        source=s.source,
        student_ref=s.ref,
        account_id=view.principal.account_id,
        about=about,
        message=message,
    )
    conn.commit()
    stored = corrections.get(conn, keyring, cid)
    assert stored is not None
    mail = correction_mail(conn, keyring, app.config, stored)
    if mail is None:
        log.warning("correction.no_data_contact", request=cid)
        return cid
    try:
        await run_in_threadpool(app.mailer.send, Message(*mail, kind="correction"))
    except MailError as exc:
        log.warning("correction.mail_failed", request=cid, error=str(exc))
        return cid
    corrections.mark_notified(conn, cid)
    conn.commit()
    return cid


@router.post("/{student_id}/corrections", status_code=201)
async def request_correction(student_id: str, body: CorrectionIn, view: ViewDep) -> Response:
    s = authorised(view, student_id, "corrections")
    cid = await file_correction(view, s, body.about, body.message)
    return json_response({"data": {"id": cid, "status": "open"}}, status=201)


def data_contact(config: PorticoConfig, school_id: str) -> str | None:
    """The school's configured data contact, else the district's."""
    for c in config.privacy.data_contacts:
        if c.school_id == school_id:
            return c.email
    return config.privacy.district_data_contact


def correction_mail(
    conn: Connection, keyring: Keyring, config: PorticoConfig, c: corrections.Correction
) -> tuple[str, str, str] | None:
    """(to, subject, body) for the school's data contact; None if none is configured or the student is gone."""
    state = load_state(conn, c.source)
    if state is None or state.published_run is None:
        return None
    reader = Reader(conn, keyring)
    student = reader.shared(c.source, "student", c.student_ref, state.published_run)
    if student is None:
        return None
    to = data_contact(config, str(student.get("school_id")))
    if to is None:
        return None
    school_ref = keyring.index.ref(c.source, "school", str(student.get("school_id")))
    school = reader.shared(c.source, "school", school_ref, state.published_run) or {}
    account = accounts.get(conn, c.account_id)
    who: dict[str, Any] = {"role": account.role if account else "unknown"}
    if account is not None and account.role == "guardian":
        contact = reader.shared(c.source, "contact", account.subject_ref, state.published_run) or {}
        who.update({k: contact.get(k) for k in ("first_name", "last_name", "email")})
    elif account is not None:
        who["email"] = student.get("email")
    subject, body = correction_email(
        request_id=c.id,
        student=student,
        school_name=school.get("name"),
        requester=who,
        about=c.about,
        message=c.message,
    )
    return to, subject, body
