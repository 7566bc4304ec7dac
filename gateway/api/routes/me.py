"""``/v1/me``: the account, its acceptable-use and password state, the students visible now.

A guardian who can see no student (every link held, or none live) is told only that
access is currently unavailable: never why, and nothing about anyone else.
"""

from __future__ import annotations

import pyotp
from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from cache.read.reader import Reader
from cache.snapshots.runs import load_state
from gateway.access import accounts, credentials, passwords, throttle
from gateway.access.reminders import reminder_state
from gateway.api.deps import App, Conn, CurrentAccount, principal_of
from gateway.api.envelope import json_response
from gateway.api.problems import Problem, bad_request
from gateway.api.routes.auth import too_many
from gateway.api.routes.students import school_names
from gateway.api.routing import DatabaseRoute

router = APIRouter(prefix="/v1", tags=["account"], route_class=DatabaseRoute)
UNAVAILABLE = "Access to this account's records is currently unavailable; contact the school."


class AupAcceptance(BaseModel):
    version: str = Field(min_length=1, max_length=64)


class TotpCode(BaseModel):
    code: str = Field(min_length=6, max_length=10)


@router.api_route("/me", methods=["GET"])
async def me(account: CurrentAccount, conn: Conn, app: App) -> Response:
    current_aup = app.config.access.aup.version
    students = []
    state = load_state(conn, account.source)
    if account.aup_version == current_aup and state is not None and state.published_run is not None:
        reader = Reader(conn, app.cache.keyring)
        visible = reader.students(principal_of(account), state.published_run, app.today())
        names = school_names(reader, app, visible)
        students = [
            {
                "id": s.ref,
                "first_name": s.data.get("preferred_first_name") or s.data["legal_first_name"],
                "school": {"name": names.get(s.data["school_id"])},
            }
            for s in visible
        ]
    policy = passwords.preset(app.config.access.password_policy)
    now = app.clock()
    notice = UNAVAILABLE if account.aup_version == current_aup and not students else None
    return json_response(
        {
            "data": {
                "id": account.id,
                "role": account.role,
                "aup": {
                    "accepted_version": account.aup_version,
                    "current_version": current_aup,
                    "accepted_at": account.aup_accepted_at,
                    "accepted": account.aup_version == current_aup,
                    "text": app.config.access.aup.text,
                },
                "password": {
                    "policy": policy.name,
                    "changed_at": account.password_changed_at,
                    "expires_at": policy.expires_at(account.password_changed_at),
                    "expired": policy.expired(account.password_changed_at, now),
                    "reminder": reminder_state(policy, account, now),
                },
                "mfa": {"setting": app.config.access.mfa, "enrolled": account.totp_confirmed_at is not None},
                "students": students,
                "notice": notice,
            }
        }
    )


@router.post("/me/aup", status_code=204)
async def accept_aup(body: AupAcceptance, account: CurrentAccount, conn: Conn, app: App) -> Response:
    """Record that the caller accepted the current acceptable-use policy, and when."""
    if body.version != app.config.access.aup.version:
        raise bad_request(
            "version: not the current acceptable-use policy",
            [{"field": "version", "message": "not the current version"}],
        )
    accounts.set_fields(conn, account.id, aup_version=body.version, aup_accepted_at=app.clock())
    conn.commit()
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


@router.post("/me/totp")
async def start_totp(account: CurrentAccount, conn: Conn, app: App) -> Response:
    """A new authenticator secret (shown once); it counts only after ``/me/totp/confirm``."""
    if app.config.access.mfa == "off":
        raise Problem(404, "not-found", "Not found", "No such resource.")
    if account.totp_confirmed_at is not None:
        raise Problem(409, "mfa-enrolled", "Already set up", "Two-step sign-in is already set up.")
    secret = pyotp.random_base32()
    accounts.set_fields(
        conn, account.id, totp_secret_enc=credentials.seal_totp(app.cache.keyring, account, secret)
    )
    conn.commit()
    uri = pyotp.TOTP(secret).provisioning_uri(name=account.id, issuer_name=app.config.district.name)
    return json_response({"data": {"secret": secret, "uri": uri}})


@router.post("/me/totp/confirm", status_code=204)
async def confirm_totp(body: TotpCode, account: CurrentAccount, conn: Conn, app: App) -> Response:
    """Codes are counted like sign-in's (``api.throttles.totp_free`` free failures per account)."""
    now = app.clock()
    codes = throttle.Guesses(conn, app.config.api.throttles, "t", account.id, now)
    wait = codes.wait()
    if wait is not None:
        raise too_many(wait, "Too many wrong codes: wait before trying again.")
    if account.totp_confirmed_at is not None or not credentials.totp_ok(
        app.cache.keyring, account, body.code
    ):
        codes.failed()
        conn.commit()
        raise bad_request(
            "code: not the current code", [{"field": "code", "message": "not the current code"}]
        )
    codes.succeeded()
    accounts.set_fields(conn, account.id, totp_confirmed_at=now)
    conn.commit()
    return Response(status_code=204, headers={"Cache-Control": "no-store"})
