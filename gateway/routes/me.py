"""``GET /v1/me``: the signed-in account and the students visible to it now."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from cache.reader import Reader
from cache.runs import load_state
from gateway.deps import App, Conn, CurrentAccount, principal_of
from gateway.envelope import json_response
from gateway.routes.students import school_names, today_in

router = APIRouter(prefix="/v1", tags=["account"])


@router.api_route("/me", methods=["GET", "HEAD"])
async def me(account: CurrentAccount, conn: Conn, app: App) -> Response:
    current_aup = app.config.access.aup.version
    students = []
    state = load_state(conn, account.source)
    if account.aup_version == current_aup and state is not None and state.published_run is not None:
        reader = Reader(conn, app.cache.keyring)
        visible = reader.students(principal_of(account), state.published_run, today_in(app))
        names = school_names(reader, app, visible)
        students = [
            {
                "id": s.ref,
                "first_name": s.data.get("preferred_first_name") or s.data["legal_first_name"],
                "school": {"name": names.get(s.data["school_id"])},
            }
            for s in visible
        ]
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
                },
                "password": {"changed_at": account.password_changed_at},
                "students": students,
            }
        }
    )
