"""Calendar feeds and family tokens: ``/v1/account/feeds``, ``/v1/account/tokens`` and the feed itself.

Made, listed and revoked by a signed-in account (a family token is refused here: 403).
Making one needs the same gates as reading data, and names only students the account
may see now; a feed's every fetch and a token's every request go through the same live
relationship check as a session's request, so both die with the link or the account.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection
from starlette.responses import Response

from cache.read import queries
from cache.read.reader import Reader, StudentHandle
from cache.read.visibility import rule_for, window
from cache.snapshots.runs import load_state
from cache.tables.accounts import Account
from gateway.access import family, throttle
from gateway.api import ical
from gateway.api.deps import App, Conn, CurrentAccount, Portico, data_principal, make_view, principal_of
from gateway.api.envelope import NO_STORE, json_response
from gateway.api.params import is_ref
from gateway.api.problems import Problem, bad_request, not_found, too_many_requests
from gateway.api.routes.students import visibility, visible_or_404
from gateway.api.routing import DatabaseRoute

router = APIRouter(prefix="/v1/account", tags=["account"], route_class=DatabaseRoute)
feed_router = APIRouter(tags=["calendar"], route_class=DatabaseRoute)
CALENDAR = "text/calendar; charset=utf-8"
# A feed's address: the secret is the last segment (``secrets.token_urlsafe``: URL-safe).
FEED_PATH = "/v1/calendar/{secret}.ics"


class FeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    student_id: str = Field(
        min_length=1, max_length=40, description="The student's id, as `/v1/students` gives it."
    )


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    students: list[str] = Field(min_length=1, max_length=20, description="Student ids the token may read.")
    kinds: list[family.TokenKind] = Field(
        min_length=1, max_length=7, description="Kinds of data the token may read."
    )
    expires_in_days: int = Field(ge=1, le=3660, description="Days until the token stops working.")


# --- shared with the portal's account page ----------------------------------------------


async def _data_account(conn: Connection, app: Portico, account: Account) -> None:
    """The gates a data read passes (policy accepted, password not expired, MFA as required),
    and the per-account limit on making feeds and tokens."""
    await data_principal(account, app)
    wait = throttle.spend(
        conn,
        "family:" + account.id,
        app.config.api.throttles.feeds_and_tokens_created_per_account,
        app.clock(),
    )
    conn.commit()
    if wait is not None:
        raise too_many_requests(wait, "Too many new feeds and tokens: wait before making another.")
    if family.count_of(conn, account.id) >= family.MAX_PER_ACCOUNT:
        raise Problem(
            409,
            "too-many-links",
            "Too many feeds and tokens",
            "Revoke a feed or token before making another.",
        )


def visible_refs(conn: Connection, app: Portico, account: Account, wanted: list[str]) -> list[str] | None:
    """``wanted`` if the account may see every one of those students now, else None."""
    state = load_state(conn, account.source)
    if state is None or state.published_run is None:
        return None
    reader = Reader(conn, app.cache.keyring, app.attached)
    principal = principal_of(account)
    seen = {s.ref for s in reader.students(principal, state.published_run, app.today())}
    if not wanted or any(not is_ref(w) or w not in seen for w in wanted):
        return None
    return sorted(set(wanted))


def feed_url(app: Portico, secret: str) -> str:
    return app.config.portal_url(FEED_PATH.format(secret=secret))


async def new_feed(conn: Connection, app: Portico, account: Account, student_id: str) -> dict[str, Any]:
    await _data_account(conn, app, account)
    refs = visible_refs(conn, app, account, [student_id])
    if refs is None:
        raise not_found()
    feed_id, secret = family.create_feed(conn, account.id, refs[0], app.clock())
    conn.commit()
    return {"id": feed_id, "student_id": refs[0], "url": feed_url(app, secret)}


async def new_token(
    conn: Connection, app: Portico, account: Account, students: list[str], kinds: list[str], days: int
) -> dict[str, Any]:
    lifetime = dt.timedelta(days=days)
    most = app.config.access.family_token_max_lifetime
    if lifetime > most:
        raise bad_request(
            f"expires_in_days: at most {most.days}",
            [{"field": "expires_in_days", "message": f"at most {most.days} days"}],
        )
    if not set(kinds) <= set(family.KINDS) or not kinds:
        raise bad_request("kinds: unknown kind", [{"field": "kinds", "message": "unknown kind"}])
    await _data_account(conn, app, account)
    refs = visible_refs(conn, app, account, students)
    if refs is None:
        raise not_found()
    now = app.clock()
    token_id, token = family.create_token(conn, account.id, refs, kinds, now + lifetime, now)
    conn.commit()
    return {"id": token_id, "token": token, "students": refs, "kinds": [k for k in family.KINDS if k in kinds],
            "expires_at": now + lifetime}  # fmt: skip


def feed_listing(f: Any) -> dict[str, Any]:
    return {
        "id": f.id,
        "student_id": f.student_ref,
        "created_at": f.created_at,
        "last_used_at": f.last_used_at,
    }


def token_listing(t: Any, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": t.id,
        "students": t.students,
        "kinds": t.kinds,
        "created_at": t.created_at,
        "expires_at": t.expires_at,
        "expired": t.expires_at <= now,
        "last_used_at": t.last_used_at,
    }


def _created(data: dict[str, Any]) -> Response:
    return json_response({"data": data}, status=201)


def _revoked(conn: Connection, kind: family.LinkKind, account: Account, link_id: str) -> Response:
    if len(link_id) > 40 or not family.revoke(conn, kind, account.id, link_id):
        raise not_found()
    conn.commit()
    return Response(status_code=204, headers=NO_STORE)


# --- the API -------------------------------------------------------------------------------


@router.post("/feeds", status_code=201)
async def create_feed(body: FeedIn, account: CurrentAccount, conn: Conn, app: App) -> Response:
    """A calendar feed (iCalendar) of one of the caller's students. The answer's `url`
    carries the feed's secret: it is shown this once and stored only as a hash."""
    return _created(await new_feed(conn, app, account, body.student_id))


@router.get("/feeds")
async def list_feeds(account: CurrentAccount, conn: Conn) -> Response:
    """The caller's calendar feeds (never their secrets)."""
    return json_response({"data": [feed_listing(f) for f in family.feeds_of(conn, account.id)]})


@router.delete("/feeds/{feed_id}", status_code=204)
async def revoke_feed(feed_id: str, account: CurrentAccount, conn: Conn) -> Response:
    """Revoke a feed: its URL answers 404 from now on."""
    return _revoked(conn, "feed", account, feed_id)


@router.post("/tokens", status_code=201)
async def create_token(body: TokenIn, account: CurrentAccount, conn: Conn, app: App) -> Response:
    """A family token: read-only, for the chosen students and kinds, until it expires (at
    most `access.family_token_max_lifetime`). The `token` is shown this once.

    A parent's own tool sends it as a bearer token to the data routes it was given; every
    other route answers 403 (`family-token-read-only`), a child or kind not given the
    uniform 404. For example, a home-automation sensor reading attendance:

        curl -s "https://portal.example.org/v1/students/<id>/attendance/summary" \\
          -H "Authorization: Bearer pft_..."

    Home Assistant's REST sensor: `resource` the URL above, `headers: {Authorization:
    "Bearer pft_..."}`, `value_template: "{{ value_json.data.attendance_percent }}"`."""
    return _created(
        await new_token(conn, app, account, body.students, list(body.kinds), body.expires_in_days)
    )


@router.get("/tokens")
async def list_tokens(account: CurrentAccount, conn: Conn, app: App) -> Response:
    """The caller's family tokens (never the tokens themselves)."""
    now = app.clock()
    return json_response({"data": [token_listing(t, now) for t in family.tokens_of(conn, account.id)]})


@router.delete("/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: str, account: CurrentAccount, conn: Conn) -> Response:
    """Revoke a token: every request with it answers 401 from now on."""
    return _revoked(conn, "token", account, token_id)


@feed_router.get(
    FEED_PATH,
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "The student's calendar (RFC 5545)."}},
)
async def calendar_feed(secret: str, request: Request, conn: Conn, app: App) -> Response:
    """One student's timetable, due dates and dated notices as iCalendar, for a calendar app
    to subscribe to. No sign-in: the URL's secret is the credential. An unknown or revoked
    feed, and a feed whose account may no longer see the student, answer the same 404."""
    now = app.clock()
    used = family.resolve_feed(conn, secret, now)
    conn.commit()
    if used is None:
        raise not_found()
    wait = throttle.spend(conn, "feed:" + used.feed_id, app.config.api.throttles.feed_fetches_per_feed, now)
    conn.commit()
    if wait is not None:
        raise too_many_requests(wait, "This feed was fetched too often: wait before fetching it again.")
    try:
        principal = await data_principal(used.account, app)
    except Problem:  # a gate the account has not passed: the feed reads nothing, like any other
        raise not_found() from None
    view = make_view(request, conn, app, principal, used.state)
    try:
        s = visible_or_404(view, used.student_ref, "timetable")
        for category in ("timetable", "assignments", "notices"):
            view.audit_later(category, [s.ref])
        vis = visibility(view, s)
        body = ical.build(
            view.reader,
            app.config,
            s,
            tz=vis.tz,
            window=ical.feed_window(app.config, view.today),
            year_start=school_year_start(view.reader, app, s),
            assignments_window=vis.of("assignment"),
            # Notices reach whole schools and the district: the window is the district's.
            notices_window=window(rule_for(app.config.visibility, "notice"), view.now, app.tz),
            today=view.today,
            stamp=now,
        )
        await view.settle()
    finally:
        view.close()
    return Response(
        body,
        media_type=CALENDAR,
        headers={**NO_STORE, "Content-Disposition": 'inline; filename="calendar.ics"'},
    )


def school_year_start(reader: Reader, app: Portico, s: StudentHandle) -> dt.date | None:
    ref = app.cache.keyring.index.ref(s.source, "school", s.data["school_id"])
    school = queries.shared_many(reader, s.source, "school", [ref], s.published_run)
    return next(
        (dt.date.fromisoformat(v["year_start_date"]) for v in school.values() if v.get("year_start_date")),
        None,
    )
